// Package transporttest is the conformance suite that every transport runs:
// the contract of transport.Conn, transport.Transport and
// transport.ServerConfig, checked end to end over real HTTP on 127.0.0.1.
//
// A transport's test calls [Run] with its client and its server handler:
//
//	func TestConformance(t *testing.T) {
//		transporttest.Run(t, transporttest.Subject{
//			Transport:  websocket.Transport{},
//			NewHandler: websocket.NewHandler,
//		})
//	}
//
// Every test runs twice: with text messages (codec "json") and with binary
// messages holding every byte value (codec "cbor", Config.Binary set).
// The suite closes every connection and server it starts and waits for the
// handlers it served, so callers can check for leaked goroutines.
package transporttest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimekit/realtime/transport"
)

// Subject is a transport under test: its client side and its server handler.
type Subject struct {
	// Transport dials the connections under test.
	Transport transport.Transport
	// NewHandler serves the transport. The suite mounts the handler at "/" and
	// dials the server's root URL, so the handler must serve any path.
	NewHandler func(cfg transport.ServerConfig) http.Handler
}

// Time limits. Generous, so that a slow machine (-race, an emulator) passes;
// a hang still fails well within the default test timeout.
const (
	waitFor = 10 * time.Second // for anything involving the network
	prompt  = 5 * time.Second  // for what must not wait on the network
)

type mode struct {
	name   string
	codec  string
	binary bool
}

var modes = []mode{{name: "text", codec: "json"}, {name: "binary", codec: "cbor", binary: true}}

// Run runs every conformance test as a subtest of t, each on a server of its
// own:
//
//   - Order: 1,000 messages each way arrive in order and intact.
//   - LargeMessage: a message of exactly the read limit passes each way; one
//     byte more fails the receiver with transport.ErrTooLarge.
//   - FullDuplex: both ends send 1,000 messages while receiving.
//   - Close, CloseUnblocksSend: Close at either end is idempotent and safe
//     to call concurrently, wakes a pending Send or Recv, makes later calls
//     fail with net.ErrClosed at once, and ends the peer's Recv.
//   - ContextCancel: Send and Recv return ctx's error.
//   - PeerVanishes: when either end drops off the network without a word
//     (and cannot reconnect), the other end's Recv fails. The server runs
//     with a PollTimeout of 500 ms here, for transports that must notice
//     silence.
//   - HandshakeRefused: Check answering 403 or 401 makes Dial fail with a
//     *transport.HandshakeError carrying the status.
//   - Dial: an ended ctx and a closed port fail Dial, the latter with an
//     error that is not a HandshakeError.
//   - HeadersAndQuery: every handshake request carries Config.Header, v=1,
//     the codec, and extends the base URL's path.
//   - Secrets: no error of Dial, Send, Recv or Close carries the base URL's
//     query, a header value or the connection id: a closed port, a refused
//     handshake, dropped POSTs, polls and DELETEs, a server that vanishes.
//   - Redirects: a redirect to another origin fails Dial with a
//     *transport.RedirectError unless Config.AllowedRedirectHosts names
//     the host, and then no header of Config.Header reaches it; https to
//     http, a loop and too many redirects fail Dial the same way.
func Run(t *testing.T, s Subject) {
	t.Helper()
	if s.Transport == nil || s.NewHandler == nil {
		t.Fatal("transporttest: Subject needs both Transport and NewHandler")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s Subject, m mode)
	}{
		{"Order", testOrder},
		{"LargeMessage", testLargeMessage},
		{"FullDuplex", testFullDuplex},
		{"Close", testClose},
		{"CloseUnblocksSend", testCloseUnblocksSend},
		{"ContextCancel", testContextCancel},
		{"PeerVanishes", testPeerVanishes},
		{"HandshakeRefused", testHandshakeRefused},
		{"Dial", testDial},
		{"HeadersAndQuery", testHeadersAndQuery},
		{"Secrets", testSecrets},
		{"Redirects", testRedirects},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, s, m) })
			}
		})
	}
}

// harness is one server of the subject and a client to dial it, with
// switches to make either end vanish from the network.
type harness struct {
	t        *testing.T
	s        Subject
	m        mode
	srv      *httptest.Server
	ln       *tracker // the server's connections
	dialer   *tracker // the client's connections
	client   *http.Client
	accepted chan transport.Conn
	release  chan struct{} // closed at cleanup: every Accept returns
	handlers sync.WaitGroup
	// dropIDs, when set, makes the server drop (without an answer) every
	// request naming a connection id: the POSTs, polls and DELETEs of the
	// HTTP transports.
	dropIDs atomic.Bool

	mu    sync.Mutex
	conns []transport.Conn // every Conn of either end, closed at cleanup
	ids   []string         // the connection ids requests named
	seen  []http.Header    // the headers of every request served
}

// newHarness starts a server with sc, whose Accept the harness provides.
func newHarness(t *testing.T, s Subject, m mode, sc transport.ServerConfig) *harness {
	t.Helper()
	h := &harness{
		t: t, s: s, m: m,
		ln:       &tracker{},
		dialer:   &tracker{},
		accepted: make(chan transport.Conn, 16),
		release:  make(chan struct{}),
	}
	sc.Accept = func(_ *http.Request, c transport.Conn) {
		h.track(c)
		select {
		case h.accepted <- c:
		case <-h.release:
			return
		}
		<-h.release // own the conn until the test ends, as a server would
	}
	handler := s.NewHandler(sc)
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.handlers.Add(1)
		defer h.handlers.Done()
		h.mu.Lock()
		h.seen = append(h.seen, r.Header.Clone())
		h.mu.Unlock()
		if id := r.URL.Query().Get("id"); id != "" {
			h.mu.Lock()
			h.ids = append(h.ids, id)
			h.mu.Unlock()
			if h.dropIDs.Load() {
				panic(http.ErrAbortHandler) // the client sees its connection drop
			}
		}
		handler.ServeHTTP(w, r)
	}))
	h.ln.Listener = h.srv.Listener
	h.srv.Listener = h.ln
	h.srv.Start()
	tr := &http.Transport{DialContext: h.dialer.dial}
	h.client = &http.Client{Transport: tr}
	t.Cleanup(func() {
		h.closeAll()
		close(h.release)
		// Close returns once no request is in flight but a hijacked one;
		// after it no handler can start, so waiting on handlers is sound.
		h.srv.Close()
		waitGroup(t, &h.handlers, "the subject's handlers")
		tr.CloseIdleConnections()
		h.dialer.kill()
		h.ln.kill()
	})
	return h
}

// config is a client config for the mode, using the harness's client.
func (h *harness) config() transport.Config {
	return transport.Config{HTTPClient: h.client, Codec: h.m.codec, Binary: h.m.binary}
}

func (h *harness) track(c transport.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns = append(h.conns, c)
}

// dial dials the server with cfg and fails the test on error.
func (h *harness) dial(cfg transport.Config) transport.Conn {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), waitFor)
	defer cancel()
	c, err := h.s.Transport.Dial(ctx, h.srv.URL, cfg)
	if err != nil {
		h.t.Fatalf("Dial: %v", err)
	}
	h.track(c)
	return c
}

// serverConn returns the next connection the server accepted.
func (h *harness) serverConn() transport.Conn {
	h.t.Helper()
	select {
	case c := <-h.accepted:
		return c
	case <-time.After(waitFor):
		h.t.Fatalf("the server accepted no connection within %v", waitFor)
		return nil
	}
}

// pair dials with cfg and returns both ends of the connection.
func (h *harness) pair(cfg transport.Config) (client, server transport.Conn) {
	h.t.Helper()
	client = h.dial(cfg)
	return client, h.serverConn()
}

// closeAll closes every Conn at once, so that each end's close handshake
// finds the other end closing too.
func (h *harness) closeAll() {
	h.mu.Lock()
	conns := h.conns
	h.conns = nil
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { _ = c.Close() })
	}
	waitGroup(h.t, &wg, "Close of every connection")
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Errorf("%s did not return within %v", what, waitFor)
	}
}
