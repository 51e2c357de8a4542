package websocket

import (
	"bufio"
	"net"
	"net/http"

	ws "github.com/coder/websocket"

	"github.com/realtimekit/realtime/transport"
)

// NewHandler returns the server side of the transport. It serves any path;
// mount it at {base}/ws.
//
// For each request it runs cfg.Check, if set, and answers a non-zero status
// with that status and no upgrade. It then upgrades the request: one that is
// not a WebSocket handshake gets 426 Upgrade Required (405 if not a GET), and
// a browser request from another origin gets 403, as coder/websocket decides.
// A client that offers permessage-deflate gets it; others are unaffected.
// Messages are binary when the request asks for codec=cbor, text otherwise.
//
// cfg.Accept runs on the handler's goroutine; the connection is closed when
// it returns. cfg.ReadLimit bounds received messages (zero means
// transport.DefaultReadLimit); cfg.PollTimeout is ignored.
func NewHandler(cfg transport.ServerConfig) http.Handler {
	limit := cfg.ReadLimit
	if limit <= 0 {
		limit = transport.DefaultReadLimit
	}
	opts := &ws.AcceptOptions{CompressionMode: ws.CompressionContextTakeover}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cfg.Check != nil {
			if code := cfg.Check(r); code != 0 {
				http.Error(w, http.StatusText(code), code)
				return
			}
		}
		var rec *hijackRecorder
		if canHijack(w) {
			// Only then: otherwise coder/websocket's own 501 answer stands.
			rec = &hijackRecorder{ResponseWriter: w}
			w = rec
		}
		c, err := ws.Accept(w, r, opts)
		if err != nil {
			return // Accept has answered the request
		}
		var raw net.Conn
		if rec != nil {
			raw = rec.raw
		}
		conn := newConn(c, raw, transport.IsBinary(r), limit)
		defer conn.Close()
		cfg.Accept(r, conn)
	})
}

// hijackRecorder keeps the network connection that Accept hijacks, for the
// same reason as upgradeRecorder on the client side.
type hijackRecorder struct {
	http.ResponseWriter
	raw net.Conn
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		h.raw = c
	}
	return c, brw, err
}

func (h *hijackRecorder) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// canHijack follows Unwrap the way http.ResponseController does.
func canHijack(w http.ResponseWriter) bool {
	for {
		switch t := w.(type) {
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}
