//go:build js

package websocket

import (
	"io"
	"syscall/js"

	ws "github.com/coder/websocket"

	"github.com/realtimekit/realtime/transport"
)

// supported reports ErrUnsupported when there is no global WebSocket
// constructor to call. coder/websocket calls it unchecked, and
// syscall/js panics on a call of undefined (Node.js before 22 has none).
// It is asked on every dial, not once, so that a constructor installed
// later (a polyfill) is used.
func supported() error {
	if js.Global().Get("WebSocket").Type() != js.TypeFunction {
		return ErrUnsupported
	}
	return nil
}

// dialOptions in a browser: the browser's WebSocket makes the request, so
// cfg.HTTPClient and cfg.Header cannot apply (authenticate with cookies or
// a token in the base URL's query) and the browser decides compression.
func (t Transport) dialOptions(transport.Config) (*ws.DialOptions, func() io.Closer) {
	return &ws.DialOptions{}, func() io.Closer { return nil }
}
