// Package mock is an in-process realtime server for tests: it speaks every
// transport and the whole protocol (docs/PROTOCOL.md), records what clients
// publish, and has switches for the faults real networks and servers
// produce: refused or broken handshakes, buffering proxies, dropped
// connections, lost or late acks, expired sessions, refused publishes.
//
// Start one per test with NewServer and give the client its URL; wait on
// it with a context (WaitReceived, WaitConns, WaitFor), never with sleeps.
// The switches are a layer over the hooks of the server core, so the
// protocol a client sees from the mock is the production server's.
package mock

import (
	"bytes"
	"context"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/realtimekit/realtime/internal/serverhooks"
	"github.com/realtimekit/realtime/server"
)

// Options configures a Server. A nil *Options means every default.
type Options struct {
	// Server is the configuration of the server under the mock, with the
	// defaults of package server but one: a test publishes as fast as it
	// likes unless it sets Server.PublishRate. Its OnPublish, if set, runs before the
	// mock records a publish (and before Nack's function); the mock's
	// switches apply on top of it.
	Server server.Config
	// MaxReceived bounds the publishes Received keeps; beyond it the
	// oldest are forgotten, though WaitReceived still counts them.
	// Default 0: no bound, as a test wants; a long-running server wants
	// one.
	MaxReceived int
}

// Message is one publish a client made and the server accepted.
type Message struct {
	Session string // the publishing session's id
	Channel string
	Data    []byte
	Seq     uint64 // the client's sequence number for the publish
	// Header is the publish's header, nil when none.
	Header map[string]string
}

// Server is a mock realtime server. Its methods are safe for concurrent
// use.
type Server struct {
	core    *server.Server
	ts      *httptest.Server // nil when created by New
	handler http.Handler
	delays  *ackDelayer

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every state change
	received   []Message
	forgotten  int // publishes dropped from received by MaxReceived
	maxRecv    int
	conns      map[uint64]*mconn
	transports map[string]int
	sw         switches
	closing    bool // Close is waiting for the goroutines

	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// NewServer starts a Server on a random port of 127.0.0.1. Close it when
// done (t.Cleanup(srv.Close)).
func NewServer(opts *Options) *Server {
	s := New(opts)
	s.ts = httptest.NewUnstartedServer(s.handler)
	s.ts.Config.ConnContext = s.ConnContext
	s.ts.Start()
	return s
}

// New returns a Server that does not listen: serve its Handler yourself,
// ideally from an http.Server whose ConnContext is s.ConnContext. URL
// returns "" for it.
func New(opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	s := &Server{
		changed:    make(chan struct{}),
		conns:      make(map[uint64]*mconn),
		transports: make(map[string]int),
		done:       make(chan struct{}),
		maxRecv:    o.MaxReceived,
	}
	s.sw.init()
	s.delays = newAckDelayer(s)
	s.core = server.New(s.config(o))
	serverhooks.Install(s.core, s.hooks())
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s
}

// URL returns the base URL to give a client, such as
// "http://127.0.0.1:41234", or "" for a Server made by New.
func (s *Server) URL() string {
	if s.ts == nil {
		return ""
	}
	return s.ts.URL
}

// Handler returns the HTTP handler that serves every transport under any
// base path (it routes on the /ws, /sse and /poll suffixes).
func (s *Server) Handler() http.Handler { return s.handler }

type connKey struct{}

// ConnContext, set as an http.Server's ConnContext, lets DropConnections
// and the other switches close a connection's network connection
// abruptly, as a network failure does, instead of closing it cleanly.
func (s *Server) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// Close closes every connection, each with error 1001 (going away) first,
// and waits for every goroutine of the server. Calling it again does
// nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.core.Close(ctx)
		s.delays.close()
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		s.wg.Wait()
		if s.ts != nil {
			s.ts.Close()
		}
	})
}

// Publish delivers data on channel to every subscribed session, as if a
// client had published it; it is not recorded by Received.
func (s *Server) Publish(ctx context.Context, channel string, data []byte) error {
	return s.core.Publish(ctx, channel, data)
}

// Received returns copies of the publishes clients made and the server
// accepted, in the order the server processed them (the latest
// Options.MaxReceived of them when that is set).
func (s *Server) Received() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.received))
	for i, m := range s.received {
		m.Data = bytes.Clone(m.Data)
		m.Header = maps.Clone(m.Header)
		out[i] = m
	}
	return out
}

// WaitReceived waits until at least n publishes have been received and
// returns what Received returns, or returns ctx's error.
func (s *Server) WaitReceived(ctx context.Context, n int) ([]Message, error) {
	err := s.WaitFor(ctx, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.forgotten+len(s.received) >= n
	})
	if err != nil {
		return nil, err
	}
	return s.Received(), nil
}

// WaitFor waits until cond returns true, or returns ctx's error. cond is
// evaluated now and again after every change of the server's state: a
// publish received, a connection or session opened or ended, a handshake
// accepted. cond may call the Server's methods.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Sessions returns how many sessions the server keeps, with or without a
// connection.
func (s *Server) Sessions() int { return s.core.Stats().Sessions }

// Conns returns how many connections are live. A connection counts from
// just before its hello is sent, so a client that holds a hello is
// counted, until it has ended.
func (s *Server) Conns() int { return s.core.Stats().Conns }

// WaitConns waits until exactly n connections are live, or returns ctx's
// error.
func (s *Server) WaitConns(ctx context.Context, n int) error {
	return s.WaitFor(ctx, func() bool { return s.Conns() == n })
}

// Transports returns how many connections each transport ("websocket",
// "sse", "longpoll") has accepted so far, including those a switch closed
// at once.
func (s *Server) Transports() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.transports))
	for k, v := range s.transports {
		out[k] = v
	}
	return out
}

// broadcastLocked wakes every WaitFor. The caller holds s.mu.
func (s *Server) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) broadcast() {
	s.mu.Lock()
	s.broadcastLocked()
	s.mu.Unlock()
}
