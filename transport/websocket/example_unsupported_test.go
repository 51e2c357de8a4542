package websocket_test

import (
	"errors"
	"fmt"

	"github.com/realtimekit/realtime/transport/websocket"
)

// A program built for js/wasm tells a runtime with no WebSocket (Node.js
// before 22) from a failed dial; errors.ErrUnsupported matches it too.
// Elsewhere Dial never returns it.
func ExampleErrUnsupported() {
	// What Transport.Dial returns in Node.js 20, as a caller may wrap it.
	err := fmt.Errorf("connect: %w", websocket.ErrUnsupported)

	if errors.Is(err, websocket.ErrUnsupported) {
		fmt.Println("no WebSocket in this runtime: use SSE or long polling")
	}
	fmt.Println(errors.Is(err, errors.ErrUnsupported))
	fmt.Println(err)
	// Output:
	// no WebSocket in this runtime: use SSE or long polling
	// true
	// connect: websocket: no WebSocket in this JavaScript runtime: unsupported operation
}
