// Package server is the server side of the realtime protocol
// (docs/PROTOCOL.md): sessions that resume, sequence numbers and
// acknowledgements both ways, heartbeats, and publish/subscribe fan-out
// through a Broker, over every transport of package transport.
//
// It holds no test switches: the mock package builds its faults on the
// hooks of Config, and a production server can build on the same core.
package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/transport"
)

// Errors returned by Server methods.
var (
	ErrClosed         = errors.New("server: closed")
	ErrInvalidChannel = errors.New("server: invalid channel name")
	ErrTooLarge       = errors.New("server: message too large")
)

// Server serves the protocol over HTTP. Create it with New, mount it with
// ServeHTTP, and end it with Close.
type Server struct {
	cfg      Config
	handlers []route
	nextID   atomic.Uint64

	mu        sync.Mutex
	closed    bool
	sessions  map[string]*session
	conns     map[*conn]struct{} // every accepted connection, open or not
	open      int                // connections carrying a session, see Conns
	expiry    expiryHeap         // sessions without a connection, by expireAt
	ended     []*session         // forgotten sessions awaiting clean-up
	janitorOn bool

	kick chan struct{} // wakes the janitor
	done chan struct{} // closed by Close
	wg   sync.WaitGroup
}

type route struct {
	suffix string
	h      http.Handler
}

// New returns a Server configured by cfg (copied, with defaults applied).
// It starts nothing: goroutines begin with the first connection.
func New(cfg Config) *Server {
	srv := &Server{
		cfg:      cfg.withDefaults(),
		sessions: make(map[string]*session),
		conns:    make(map[*conn]struct{}),
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	for _, t := range transports {
		srv.handlers = append(srv.handlers, route{
			suffix: t.path,
			h:      t.newHandler(srv.serverConfig(t.name)),
		})
	}
	return srv
}

func (srv *Server) serverConfig(name string) transport.ServerConfig {
	return transport.ServerConfig{
		Accept:      func(r *http.Request, c transport.Conn) { srv.accept(name, r, c) },
		Check:       func(r *http.Request) int { return srv.check(name, r) },
		ReadLimit:   int64(srv.cfg.MaxMessage),
		PollTimeout: min(25*time.Second, srv.cfg.Heartbeat),
	}
}

// ServeHTTP routes a request by its path suffix (/ws, /sse, /poll) to the
// transport that serves it, so the Server can be mounted under any base
// path.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	for _, rt := range srv.handlers {
		if strings.HasSuffix(path, rt.suffix) {
			rt.h.ServeHTTP(w, r)
			return
		}
	}
	http.NotFound(w, r)
}

// check validates a handshake request; see transport.ServerConfig.Check.
func (srv *Server) check(name string, r *http.Request) int {
	if srv.isClosed() {
		return http.StatusServiceUnavailable
	}
	if h := srv.cfg.Handshake; h != nil {
		if status := h(name, r); status != 0 {
			return status
		}
	}
	q := r.URL.Query()
	if q.Get("v") != "1" {
		return http.StatusBadRequest
	}
	if srv.codec(q.Get("codec")) == nil {
		return http.StatusBadRequest
	}
	if a := srv.cfg.Authorize; a != nil && a(r) != nil {
		return http.StatusUnauthorized
	}
	return 0
}

// codec returns the codec for a handshake's codec parameter, limited to
// MaxMessage, or nil. A missing parameter means JSON, the default codec.
func (srv *Server) codec(name string) codec.Codec {
	if name == "" {
		name = "json"
	}
	return newCodec(name, srv.cfg.MaxMessage)
}

// Publish delivers data on channel to every subscribed session, as a
// client's publish would, without OnPublish. data is copied.
func (srv *Server) Publish(ctx context.Context, channel string, data []byte) error {
	if srv.isClosed() {
		return ErrClosed
	}
	if !ValidChannel(channel) {
		return ErrInvalidChannel
	}
	if !srv.fits(channel, data) {
		return ErrTooLarge
	}
	return srv.cfg.Broker.Publish(ctx, channel, bytes.Clone(data))
}

// Sessions returns how many sessions the server keeps, with or without a
// connection.
func (srv *Server) Sessions() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.sessions)
}

// Conns returns how many connections carry a session: counted from just
// before hello is sent until the connection has ended.
func (srv *Server) Conns() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.open
}

func (srv *Server) isClosed() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.closed
}

// Close ends every connection (each gets error 1001 first), forgets every
// session, and waits for every goroutine of the server. When ctx ends
// first, it closes the connections at once, still waits, and returns
// ctx's error. A second Close returns ErrClosed.
func (srv *Server) Close(ctx context.Context) error {
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		return ErrClosed
	}
	srv.closed = true
	conns := make([]*conn, 0, len(srv.conns))
	for c := range srv.conns {
		conns = append(conns, c)
	}
	srv.mu.Unlock()
	close(srv.done)
	for _, c := range conns {
		c.stop(1001, "server shutting down")
	}

	waited := make(chan struct{})
	go func() {
		srv.wg.Wait()
		close(waited)
	}()
	var err error
	select {
	case <-waited:
	case <-ctx.Done():
		err = ctx.Err()
		for _, c := range conns {
			c.abort()
		}
		<-waited
	}

	// Nothing runs any more: end what is left and clean up in line.
	srv.mu.Lock()
	rest := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		rest = append(rest, s)
	}
	srv.mu.Unlock()
	for _, s := range rest {
		s.end(1001, "server shutting down")
	}
	srv.mu.Lock()
	ended := srv.ended
	srv.ended = nil
	srv.mu.Unlock()
	for _, s := range ended {
		srv.cleanup(s)
	}
	return err
}
