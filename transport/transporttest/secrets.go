package transporttest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/realtimekit/realtime/transport"
)

// The secrets a connection must keep out of its errors.
const (
	queryToken  = "SECRET-query-token"
	bearerToken = "SECRET-bearer-token"
	headerValue = "SECRET-header-value"
)

func secretConfig(h *harness) (transport.Config, string) {
	cfg := h.config()
	cfg.Header = http.Header{"Authorization": {"Bearer " + bearerToken}, "X-Api-Key": {headerValue}}
	return cfg, "/rt?token=" + queryToken
}

// checkClean fails t if err's message holds a secret or one of ids.
func checkClean(t *testing.T, what string, err error, ids ...string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, s := range append([]string{"SECRET", "token="}, ids...) {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("%s: the error carries %q: %s", what, s, msg)
		}
	}
}

// testSecrets drives every failure a client can see and checks each error.
func testSecrets(t *testing.T, s Subject, m mode) {
	t.Run("ClosedPort", func(t *testing.T) {
		h := newHarness(t, s, m, transport.ServerConfig{})
		cfg, suffix := secretConfig(h)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://user:SECRET-password@" + ln.Addr().String()
		_ = ln.Close()
		c, err := s.Transport.Dial(testCtx(t, waitFor), closed+suffix, cfg)
		if err == nil {
			h.track(c)
			t.Fatal("Dial to a closed port succeeded")
		}
		checkClean(t, "Dial to a closed port", err)
		if !errors.Is(err, errConnRefused(err)) {
			t.Errorf("Dial to a closed port = %v: the net error is no longer in the chain", err)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		h := newHarness(t, s, m, transport.ServerConfig{})
		cfg, suffix := secretConfig(h)
		ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
		defer cancel()
		<-ctx.Done()
		c, err := s.Transport.Dial(ctx, h.srv.URL+suffix, cfg)
		if err == nil {
			h.track(c)
			t.Fatal("Dial with an expired ctx succeeded")
		}
		checkClean(t, "Dial with an expired ctx", err)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Dial with an expired ctx = %v, want context.DeadlineExceeded in the chain", err)
		}
	})
	t.Run("HandshakeRefused", func(t *testing.T) {
		for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusServiceUnavailable} {
			h := newHarness(t, s, m, transport.ServerConfig{Check: func(*http.Request) int { return code }})
			cfg, suffix := secretConfig(h)
			c, err := s.Transport.Dial(testCtx(t, waitFor), h.srv.URL+suffix, cfg)
			if err == nil {
				h.track(c)
				t.Fatalf("Dial refused with %d succeeded", code)
			}
			checkClean(t, "Dial refused", err)
			var he *transport.HandshakeError
			if !errors.As(err, &he) || he.StatusCode != code {
				t.Errorf("Dial refused with %d = %v, want a *transport.HandshakeError with the status", code, err)
			}
		}
	})
	t.Run("DroppedRequests", func(t *testing.T) {
		h := newHarness(t, s, m, transport.ServerConfig{PollTimeout: 300 * time.Millisecond})
		cfg, suffix := secretConfig(h)
		c, err := s.Transport.Dial(testCtx(t, waitFor), h.srv.URL+suffix, cfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		h.track(c)
		server := h.serverConn()
		ctx := testCtx(t, 2*waitFor)
		// One message each way, so that every kind of request has named
		// the connection id once.
		if err := c.Send(ctx, m.message(1)); err != nil {
			t.Fatal(err)
		}
		if _, err := server.Recv(ctx); err != nil {
			t.Fatal(err)
		}
		if err := server.Send(ctx, m.message(2)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Recv(ctx); err != nil {
			t.Fatal(err)
		}
		h.mu.Lock()
		named := len(h.ids)
		h.mu.Unlock()
		if named == 0 {
			t.Skip("the transport's requests name no connection id")
		}
		h.dropIDs.Store(true)
		h.failAndCheck(ctx, c, m, "POSTs, polls and DELETEs dropped")
	})
	t.Run("ServerVanishes", func(t *testing.T) {
		h := newHarness(t, s, m, transport.ServerConfig{PollTimeout: 300 * time.Millisecond})
		cfg, suffix := secretConfig(h)
		c, err := s.Transport.Dial(testCtx(t, waitFor), h.srv.URL+suffix, cfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		h.track(c)
		h.serverConn()
		h.ln.kill()
		h.failAndCheck(testCtx(t, 2*waitFor), c, m, "the server vanished")
	})
}

// failAndCheck sends until Send fails and receives until Recv fails, then
// closes c, checking that no error names a secret or a connection id.
func (h *harness) failAndCheck(ctx context.Context, c transport.Conn, m mode, what string) {
	t := h.t
	t.Helper()
	h.mu.Lock()
	ids := append([]string(nil), h.ids...)
	h.mu.Unlock()
	var sendErr error
	for i := 0; sendErr == nil && ctx.Err() == nil; i++ {
		sendErr = c.Send(ctx, m.message(i))
		if sendErr == nil {
			time.Sleep(10 * time.Millisecond) // let the POST fail
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("%s: Send never failed", what)
	}
	checkClean(t, what+": Send", sendErr, ids...)
	r := await(t, recvAsync(ctx, c), waitFor, what+": Recv")
	if r.err == nil {
		t.Fatalf("%s: Recv = %s, nil; want an error", what, short(r.msg))
	}
	checkClean(t, what+": Recv", r.err, ids...)
	checkClean(t, what+": Close", c.Close(), ids...)
	checkClean(t, what+": second Close", c.Close(), ids...)
}

// errConnRefused returns the syscall error in err's chain, or err itself:
// errors.Is(err, errConnRefused(err)) fails only when redaction cut the
// chain.
func errConnRefused(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return errors.New("no *net.OpError in the chain")
}
