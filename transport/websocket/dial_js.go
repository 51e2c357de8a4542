//go:build js

package websocket

import (
	"io"

	ws "github.com/coder/websocket"

	"github.com/realtimekit/realtime/transport"
)

// dialOptions in a browser: the browser's WebSocket makes the request, so
// cfg.HTTPClient and cfg.Header cannot apply (authenticate with cookies or
// a token in the base URL's query) and the browser decides compression.
func (t Transport) dialOptions(transport.Config) (*ws.DialOptions, func() io.Closer) {
	return &ws.DialOptions{}, func() io.Closer { return nil }
}
