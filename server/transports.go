package server

import (
	"net/http"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/protocol"
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
func newCodec(name string, limit int) codec.Codec { return protocol.Codec(name, limit) }
