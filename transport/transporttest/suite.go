package transporttest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimekit/realtime/transport"
)

const count = 1000 // messages per direction in the ordering tests

// testOrder checks that messages arrive in order and intact, each way.
func testOrder(t *testing.T, s Subject, m mode) {
	h := newHarness(t, s, m, transport.ServerConfig{})
	client, server := h.pair(h.config())
	ctx := testCtx(t, 4*waitFor)
	for _, d := range []struct {
		name     string
		from, to transport.Conn
	}{{"client to server", client, server}, {"server to client", server, client}} {
		sent := sendAll(ctx, d.from, m, count)
		if err := recvAll(ctx, d.to, m, count); err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		if err := <-sent; err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
	}
}

// testLargeMessage checks the read limit at its edge: a message of exactly
// the limit passes, one byte more fails the receiver with ErrTooLarge.
func testLargeMessage(t *testing.T, s Subject, m mode) {
	const limit = 64 << 10
	h := newHarness(t, s, m, transport.ServerConfig{ReadLimit: limit})
	cfg := h.config()
	cfg.ReadLimit = limit
	ctx := testCtx(t, 2*waitFor)
	for _, toServer := range []bool{true, false} {
		client, server := h.pair(cfg)
		from, to := server, client
		if toServer {
			from, to = client, server
		}
		atLimit := m.sized(limit)
		sent := async(func() error { return from.Send(ctx, atLimit) })
		r := await(t, recvAsync(ctx, to), waitFor, "Recv of a message at the limit")
		if r.err != nil {
			t.Fatalf("toServer=%v: Recv of %d bytes (the limit): %v", toServer, limit, r.err)
		}
		if !bytes.Equal(r.msg, atLimit) {
			t.Fatalf("toServer=%v: message at the limit arrived changed: %s", toServer, short(r.msg))
		}
		if err := await(t, sent, waitFor, "Send of a message at the limit"); err != nil {
			t.Fatalf("toServer=%v: Send of %d bytes: %v", toServer, limit, err)
		}

		// The sender may or may not see an error; the receiver must.
		_ = async(func() error { return from.Send(ctx, m.sized(limit+1)) })
		r = await(t, recvAsync(ctx, to), waitFor, "Recv of a message over the limit")
		if !errors.Is(r.err, transport.ErrTooLarge) {
			t.Fatalf("toServer=%v: Recv of %d bytes = %v, %s; want an error matching transport.ErrTooLarge",
				toServer, limit+1, r.err, short(r.msg))
		}
		var tl *transport.TooLargeError
		if !errors.As(r.err, &tl) || tl.Limit != limit {
			t.Errorf("toServer=%v: Recv error %v: want a *transport.TooLargeError with Limit %d", toServer, r.err, limit)
		}
	}
}

// testFullDuplex sends and receives on both ends at once; Send and Recv run
// concurrently on each Conn, as the contract allows.
func testFullDuplex(t *testing.T, s Subject, m mode) {
	h := newHarness(t, s, m, transport.ServerConfig{})
	client, server := h.pair(h.config())
	ctx := testCtx(t, 4*waitFor)
	sends := []<-chan error{sendAll(ctx, client, m, count), sendAll(ctx, server, m, count)}
	recvs := []<-chan error{
		async(func() error { return recvAll(ctx, server, m, count) }),
		async(func() error { return recvAll(ctx, client, m, count) }),
	}
	for i, end := range []string{"client", "server"} {
		if err := await(t, sends[i], 4*waitFor, end+" sending"); err != nil {
			t.Errorf("%s: %v", end, err)
		}
		if err := await(t, recvs[i], 4*waitFor, end+" receiving"); err != nil {
			t.Errorf("%s: %v", end, err)
		}
	}
}

// testClose checks Close from either end: idempotent, later calls fail
// with net.ErrClosed at once, the peer learns of it, a pending Recv wakes.
func testClose(t *testing.T, s Subject, m mode) {
	for _, byClient := range []bool{true, false} {
		name := map[bool]string{true: "ByClient", false: "ByServer"}[byClient]
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, s, m, transport.ServerConfig{})
			client, server := h.pair(h.config())
			self, peer := server, client
			if byClient {
				self, peer = client, server
			}
			ctx := testCtx(t, 2*waitFor)
			peerErr := drain(ctx, peer)
			pending := recvAsync(ctx, self)
			time.Sleep(50 * time.Millisecond) // let Recv start waiting; if not, it must still fail

			// Several Close calls at once: one does the work, all return.
			closes := make([]<-chan error, 3)
			for i := range closes {
				closes[i] = async(self.Close)
			}
			var nilCount int
			for _, ch := range closes {
				err := await(t, ch, waitFor, "Close")
				switch {
				case err == nil:
					nilCount++
				case !errors.Is(err, net.ErrClosed):
					t.Errorf("Close = %v, want nil (or, after the first, net.ErrClosed)", err)
				}
			}
			if nilCount == 0 {
				t.Errorf("every Close failed; the first Close of a healthy connection must return nil")
			}
			if err := await(t, async(self.Close), prompt, "a later Close"); err != nil && !errors.Is(err, net.ErrClosed) {
				t.Errorf("later Close = %v, want nil or net.ErrClosed", err)
			}

			if r := await(t, pending, waitFor, "a Recv pending during Close"); !errors.Is(r.err, net.ErrClosed) {
				t.Errorf("pending Recv = %v, %s; want an error wrapping net.ErrClosed", r.err, short(r.msg))
			}
			send := async(func() error { return self.Send(ctx, m.message(0)) })
			if err := await(t, send, prompt, "Send after Close"); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Send after Close = %v, want an error wrapping net.ErrClosed", err)
			}
			if r := await(t, recvAsync(ctx, self), prompt, "Recv after Close"); !errors.Is(r.err, net.ErrClosed) {
				t.Errorf("Recv after Close = %v, %s; want an error wrapping net.ErrClosed", r.err, short(r.msg))
			}
			if err := await(t, peerErr, waitFor, "the peer's Recv"); err == nil {
				t.Error("the peer's Recv returned no error after Close")
			}
		})
	}
}

// testCloseUnblocksSend fills the way to a peer that does not read until
// Send blocks, then closes: the pending Send must return.
func testCloseUnblocksSend(t *testing.T, s Subject, m mode) {
	for _, end := range []string{"Client", "Server"} {
		t.Run(end, func(t *testing.T) {
			h := newHarness(t, s, m, transport.ServerConfig{})
			client, server := h.pair(h.config())
			self := client
			if end == "Server" {
				self = server
			}
			ctx := testCtx(t, 2*waitFor)
			// Larger than a deflate window, and random, so that compression
			// cannot make the stream small enough to never block.
			msg := m.random(64<<10, 1)
			sent := async(func() error {
				for range 1024 {
					if err := self.Send(ctx, msg); err != nil {
						return err
					}
				}
				return nil
			})
			time.Sleep(100 * time.Millisecond) // let Send block; if it has not, Close still ends the loop
			_ = await(t, async(self.Close), waitFor, "Close")
			if err := await(t, sent, waitFor, "a Send pending during Close"); err != nil && !errors.Is(err, net.ErrClosed) {
				t.Errorf("pending Send = %v, want an error wrapping net.ErrClosed", err)
			}
		})
	}
}

// testContextCancel checks that Send and Recv return ctx's error when it
// ends: before the call, while Recv waits, and at a deadline.
func testContextCancel(t *testing.T, s Subject, m mode) {
	h := newHarness(t, s, m, transport.ServerConfig{})
	cfg := h.config()
	ended, cancel := context.WithCancel(t.Context())
	cancel()

	client, _ := h.pair(cfg)
	if r := await(t, recvAsync(ended, client), prompt, "Recv with an ended ctx"); !errors.Is(r.err, context.Canceled) {
		t.Errorf("Recv with an ended ctx = %v, want context.Canceled", r.err)
	}
	client, _ = h.pair(cfg)
	send := async(func() error { return client.Send(ended, m.message(0)) })
	if err := await(t, send, prompt, "Send with an ended ctx"); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with an ended ctx = %v, want context.Canceled", err)
	}

	for _, end := range []string{"client", "server"} {
		client, server := h.pair(cfg)
		c := client
		if end == "server" {
			c = server
		}
		ctx, cancel := context.WithCancel(t.Context())
		pending := recvAsync(ctx, c)
		time.AfterFunc(50*time.Millisecond, cancel) // let Recv start waiting
		if r := await(t, pending, prompt, end+" Recv whose ctx is cancelled"); !errors.Is(r.err, context.Canceled) {
			t.Errorf("%s: Recv whose ctx is cancelled = %v, want context.Canceled", end, r.err)
		}

		client, server = h.pair(cfg)
		c = client
		if end == "server" {
			c = server
		}
		ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
		r := await(t, recvAsync(ctx, c), prompt, end+" Recv whose ctx times out")
		cancel()
		if !errors.Is(r.err, context.DeadlineExceeded) {
			t.Errorf("%s: Recv whose ctx times out = %v, want context.DeadlineExceeded", end, r.err)
		}
	}
}

// testPeerVanishes drops one end off the network with no goodbye; the
// other end's Recv must fail. A vanished client cannot reconnect, so a
// transport that polls must notice the silence (PollTimeout is shortened).
func testPeerVanishes(t *testing.T, s Subject, m mode) {
	sc := transport.ServerConfig{PollTimeout: 500 * time.Millisecond}
	t.Run("Server", func(t *testing.T) {
		h := newHarness(t, s, m, sc)
		client, _ := h.pair(h.config())
		ctx := testCtx(t, 2*waitFor)
		pending := recvAsync(ctx, client)
		h.ln.kill()
		if r := await(t, pending, waitFor, "the client's Recv after the server vanished"); r.err == nil {
			t.Errorf("client Recv = %s, nil; want an error", short(r.msg))
		}
	})
	t.Run("Client", func(t *testing.T) {
		h := newHarness(t, s, m, sc)
		_, server := h.pair(h.config())
		ctx := testCtx(t, 2*waitFor)
		pending := recvAsync(ctx, server)
		h.dialer.kill()
		if r := await(t, pending, waitFor, "the server's Recv after the client vanished"); r.err == nil {
			t.Errorf("server Recv = %s, nil; want an error", short(r.msg))
		}
	})
}

// testHandshakeRefused checks the statuses a refusing Check produces.
func testHandshakeRefused(t *testing.T, s Subject, m mode) {
	for _, code := range []int{http.StatusForbidden, http.StatusUnauthorized} {
		h := newHarness(t, s, m, transport.ServerConfig{Check: func(*http.Request) int { return code }})
		ctx := testCtx(t, waitFor)
		c, err := s.Transport.Dial(ctx, h.srv.URL, h.config())
		if err == nil {
			h.track(c)
			t.Fatalf("Dial with Check answering %d succeeded", code)
		}
		var he *transport.HandshakeError
		if !errors.As(err, &he) {
			t.Fatalf("Dial with Check answering %d = %v (%T), want a *transport.HandshakeError", code, err, err)
		}
		if he.StatusCode != code || he.Transport != s.Transport.Name() {
			t.Errorf("HandshakeError = {%q, %d}, want {%q, %d}", he.Transport, he.StatusCode, s.Transport.Name(), code)
		}
		if he.Refused() != (code == http.StatusForbidden) || he.Unauthorized() != (code == http.StatusUnauthorized) {
			t.Errorf("status %d: Refused() = %v, Unauthorized() = %v", code, he.Refused(), he.Unauthorized())
		}
		select {
		case <-h.accepted:
			t.Errorf("status %d: the server accepted a connection", code)
		default:
		}
	}
}

// testDial checks Dial failures that are not the server's answer.
func testDial(t *testing.T, s Subject, m mode) {
	h := newHarness(t, s, m, transport.ServerConfig{})
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	errc := async(func() error {
		c, err := s.Transport.Dial(ended, h.srv.URL, h.config())
		if err == nil {
			h.track(c)
		}
		return err
	})
	if err := await(t, errc, prompt, "Dial with an ended ctx"); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with an ended ctx = %v, want context.Canceled", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	_ = ln.Close()
	ctx := testCtx(t, waitFor)
	errc = async(func() error {
		c, err := s.Transport.Dial(ctx, closed, h.config())
		if err == nil {
			h.track(c)
		}
		return err
	})
	err = await(t, errc, waitFor, "Dial to a closed port")
	var he *transport.HandshakeError
	if err == nil || errors.As(err, &he) {
		t.Errorf("Dial to a closed port = %v, want an error that is not a *transport.HandshakeError", err)
	}
}

// testHeadersAndQuery checks what every handshake request carries: the
// configured headers, v=1, the codec, and the base URL's path as a prefix.
func testHeadersAndQuery(t *testing.T, s Subject, m mode) {
	var mu sync.Mutex
	var seen []*http.Request
	h := newHarness(t, s, m, transport.ServerConfig{Check: func(r *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Clone(context.Background()))
		return 0
	}})
	cfg := h.config()
	cfg.Header = http.Header{"Authorization": {"Bearer t0k3n"}, "X-Transporttest": {"a", "b"}}
	ctx := testCtx(t, waitFor)
	c, err := s.Transport.Dial(ctx, h.srv.URL+"/rt", cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	h.track(c)
	h.serverConn()

	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("Check saw no request")
	}
	for _, r := range seen {
		if got := r.Header.Get("Authorization"); got != "Bearer t0k3n" {
			t.Errorf("%s %s: Authorization = %q", r.Method, r.URL, got)
		}
		if got := r.Header.Values("X-Transporttest"); strings.Join(got, ",") != "a,b" {
			t.Errorf("%s %s: X-Transporttest = %q, want [a b]", r.Method, r.URL, got)
		}
		q := r.URL.Query()
		if q.Get("v") != "1" || q.Get("codec") != m.codec || transport.IsBinary(r) != m.binary {
			t.Errorf("%s %s: want v=1 and codec=%s", r.Method, r.URL, m.codec)
		}
		if !strings.HasPrefix(r.URL.Path, "/rt/") {
			t.Errorf("%s %s: path does not extend the base path /rt", r.Method, r.URL)
		}
	}
}
