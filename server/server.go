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
	"github.com/realtimekit/realtime/internal/serverhooks"
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
	hooks    serverhooks.Hooks // set by serverhooks.Install, for package mock
	handlers []route
	nextID   atomic.Uint64
	stats    counters
	hub      *hub
	cl       *cluster // nil unless Config.Sessions is set
	ownsBkr  bool     // the Broker is the default one, which Close closes
	relay    relayState

	// base is the parent of every hook's ctx: independent of connections,
	// cancelled when Close gives up waiting.
	base       context.Context
	cancelBase context.CancelFunc

	mu        sync.Mutex
	closed    bool
	sessions  map[string]*session
	conns     map[*conn]struct{} // every accepted connection, open or not
	open      int                // connections carrying a session, see Stats
	pending   int                // connections awaiting connect
	perID     map[string]int     // connections by Identity.ID
	expiry    expiryHeap         // sessions without a connection, by expireAt
	ended     []*session         // forgotten sessions awaiting clean-up
	janitorOn bool

	kick chan struct{} // wakes the janitor
	done chan struct{} // closed by Close
	wg   sync.WaitGroup
}

type route struct {
	name   string
	suffix string
	h      http.Handler
}

// New returns a Server configured by cfg (copied, with defaults applied).
// It starts nothing: goroutines begin with the first connection.
func New(cfg Config) *Server {
	base, cancel := context.WithCancel(context.Background())
	srv := &Server{
		cfg:        cfg.withDefaults(),
		base:       base,
		cancelBase: cancel,
		ownsBkr:    cfg.Broker == nil,
		sessions:   make(map[string]*session),
		perID:      make(map[string]int),
		conns:      make(map[*conn]struct{}),
		kick:       make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	srv.hub = newHub(srv.cfg.Broker)
	if srv.cfg.Sessions != nil {
		log, ok := srv.cfg.Broker.(Log)
		if !ok {
			panic("server: Config.Sessions needs a Config.Broker that implements Log")
		}
		srv.cl = &cluster{log: log, store: srv.cfg.Sessions}
		srv.cl.health, _ = srv.cfg.Broker.(Health)
	}
	for _, t := range transports {
		srv.handlers = append(srv.handlers, route{
			name:   t.name,
			suffix: t.path,
			h:      t.newHandler(srv.serverConfig(t.name)),
		})
	}
	return srv
}

func (srv *Server) serverConfig(name string) transport.ServerConfig {
	cfg := transport.ServerConfig{
		Accept:      func(r *http.Request, c transport.Conn) { srv.accept(name, r, c) },
		Check:       func(r *http.Request) int { return srv.check(name, r) },
		ReadLimit:   int64(srv.cfg.MaxMessage),
		PollTimeout: min(25*time.Second, srv.cfg.Heartbeat),
		Node:        srv.cfg.Node,
	}
	if srv.cfg.Relay != nil {
		cfg.Elsewhere = srv.forward
	}
	return cfg
}

// ServeHTTP serves the protocol's endpoints: it routes a request by its
// path suffix ({base}/ws, {base}/sse, {base}/poll) to the transport that
// serves it, so the Server can be mounted under any base path, and answers
// 404 to anything else. Requests from browsers are held to
// Config.AllowedOrigins first.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	for _, rt := range srv.handlers {
		if strings.HasSuffix(path, rt.suffix) {
			r, ok := srv.cors(w, r)
			if !ok {
				return
			}
			// Check fills in the identity; Accept finds it in the
			// context, which every transport hands on.
			hs := &handshake{w: w}
			rt.h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), handshakeKey{}, hs)))
			return
		}
	}
	http.NotFound(w, r)
}

// handshake carries what Check learnt about a handshake request to Accept.
type handshake struct {
	w        http.ResponseWriter // for Retry-After on a refusal
	identity Identity
}

type handshakeKey struct{}

func handshakeOf(r *http.Request) *handshake {
	hs, _ := r.Context().Value(handshakeKey{}).(*handshake)
	if hs == nil {
		hs = new(handshake)
	}
	return hs
}

// check validates a handshake request; see transport.ServerConfig.Check.
func (srv *Server) check(name string, r *http.Request) int {
	if srv.isClosed() {
		return http.StatusServiceUnavailable
	}
	if srv.cl != nil && srv.cl.health != nil {
		if err := srv.cl.health.Healthy(); err != nil {
			srv.cfg.Logger.Debug("handshake refused: engine unreachable", "err", err)
			if w := handshakeOf(r).w; w != nil {
				w.Header().Set("Retry-After", "2")
			}
			return http.StatusServiceUnavailable
		}
	}
	if h := srv.hooks.Handshake; h != nil {
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
	if name != "websocket" {
		if err := srv.serveRelay(); err != nil {
			srv.cfg.Logger.Warn("relay: serving this node failed", "error", err)
			if w := handshakeOf(r).w; w != nil {
				w.Header().Set("Retry-After", "1")
			}
			return http.StatusServiceUnavailable
		}
	}
	if a := srv.cfg.Authenticate; a != nil {
		id, err := a(r)
		if err != nil {
			srv.cfg.Logger.Debug("handshake not authenticated", "transport", name)
			return http.StatusUnauthorized
		}
		handshakeOf(r).identity = id
	}
	return srv.admit(r, handshakeOf(r).identity.ID)
}

// codec returns the codec for a handshake's codec parameter, limited to
// MaxMessage, or nil. A missing parameter means JSON, the default codec.
func (srv *Server) codec(name string) codec.Codec {
	if name == "" {
		name = "json"
	}
	return newCodec(name, srv.cfg.MaxMessage)
}

// Publish delivers data on channel to every session subscribed to it,
// through the Broker, as a client's publish would but without Authorize or
// OnPublish: it is for the application's backend. data is copied. It
// returns ErrInvalidChannel, ErrTooLarge (data would not fit in a message
// to a client), ErrClosed, or the Broker's error.
func (srv *Server) Publish(ctx context.Context, channel string, data []byte) error {
	if srv.isClosed() {
		return ErrClosed
	}
	if !ValidChannel(channel) {
		return ErrInvalidChannel
	}
	m := Message{Channel: channel, Data: bytes.Clone(data), Time: time.Now()}
	if !srv.fits(&m) {
		return ErrTooLarge
	}
	if err := srv.cfg.Broker.Publish(ctx, m); err != nil {
		return err
	}
	srv.stats.backend.Add(1)
	return nil
}

func (srv *Server) isClosed() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.closed
}

// Close drains the server: new handshakes get 503, and every connection
// gets error 1001 ("going away", transient) with the reason "server
// shutting down", on which the Go client reports the reason and connects
// again after its backoff, to another node or to this one restarted.
// Close then forgets every session and waits for every goroutine of the
// server. When ctx ends first, it closes the connections at once, cancels
// the ctx of running hooks, still waits, and returns ctx's error. A second
// Close returns ErrClosed. Close does not close a Broker given in
// Config, which the application owns.
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
		srv.cancelBase()
		for _, c := range conns {
			c.abort()
		}
		<-waited
	}
	srv.stopRelay()

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
	if srv.ownsBkr {
		_ = srv.cfg.Broker.Close(ctx)
	}
	srv.cancelBase()
	return err
}
