package server

import (
	"net/http"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
	"github.com/realtimekit/realtime/transport/sse"
	"github.com/realtimekit/realtime/transport/websocket"
)

// transports lists what ServeHTTP serves, by path suffix.
var transports = []struct {
	name, path string
	newHandler func(transport.ServerConfig) http.Handler
}{
	{"websocket", websocket.Path, websocket.NewHandler},
	{"sse", sse.Path, sse.NewHandler},
	{"longpoll", longpoll.Path, longpoll.NewHandler},
}

// newCodec returns the codec called name with a size limit, or nil.
func newCodec(name string, limit int) codec.Codec {
	switch name {
	case "json":
		return codec.JSON{MaxSize: limit}
	case "cbor":
		return codec.CBOR{MaxSize: limit}
	}
	return nil
}
