package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeRelay records what it is asked to forward and answers as told.
type fakeRelay struct {
	req    []byte
	answer []byte
	err    error
}

func (f *fakeRelay) Serve(string, func(context.Context, []byte) []byte) (func(), error) {
	return func() {}, nil
}

func (f *fakeRelay) Forward(_ context.Context, _ string, req []byte) ([]byte, error) {
	f.req = req
	return f.answer, f.err
}

func newRelayed(t *testing.T, f *fakeRelay) *Server {
	t.Helper()
	srv := New(Config{Node: "a", Relay: f})
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return srv
}

// A request for another node's connection crosses the Relay with what
// the transports read and nothing else: no credentials, no other query.
func TestRelayForwardsOnlyWhatTransportsRead(t *testing.T) {
	f := &fakeRelay{answer: encodeAnswer(http.StatusNoContent, nil, nil)}
	srv := newRelayed(t, f)
	r := httptest.NewRequest(http.MethodPost, "/rt/sse?id=b_CONNID&token=SECRET&v=1", strings.NewReader("BODY"))
	r.Header.Set("Authorization", "Bearer SECRET")
	r.Header.Set("Cookie", "s=SECRET")
	r.Header.Set("X-Api-Key", "SECRET")
	r.Header.Set("Content-Type", "application/x-realtime-batch")
	r.Header.Set("X-Realtime-Post", "7")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d, want 204", w.Code)
	}
	got := string(f.req)
	for _, bad := range []string{"SECRET", "Authorization", "Cookie", "token", "v=1"} {
		if strings.Contains(got, bad) {
			t.Errorf("the relayed request carries %q:\n%s", bad, got)
		}
	}
	for _, want := range []string{"POST /rt/sse?id=b_CONNID HTTP/1.1\r\n", "X-Realtime-Post: 7\r\n",
		"Content-Type: application/x-realtime-batch\r\n", "Content-Length: 4\r\n\r\nBODY"} {
		if !strings.Contains(got, want) {
			t.Errorf("the relayed request lacks %q:\n%s", want, got)
		}
	}
}

// What the Relay answers, and how it fails, reaches the client as HTTP.
func TestRelayAnswers(t *testing.T) {
	batch := encodeAnswer(http.StatusOK, http.Header{"X-Realtime-Batch": {"3"}, "Content-Type": {"x/y"}, "Set-Cookie": {"no"}}, []byte("hello"))
	for _, tc := range []struct {
		name       string
		f          fakeRelay
		status     int
		retryAfter string
		header     string // X-Realtime-Batch
		body       string
	}{
		{"answer", fakeRelay{answer: batch}, 200, "", "3", "hello"},
		{"node gone", fakeRelay{err: ErrNodeGone}, 404, "", "", ""},
		{"relay failed", fakeRelay{err: errors.New("no route")}, 503, "1", "", ""},
		{"malformed answer", fakeRelay{answer: []byte("garbage")}, 502, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRelayed(t, &tc.f)
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/poll?id=b_X&ack=2", nil))
			if w.Code != tc.status || w.Header().Get("Retry-After") != tc.retryAfter ||
				w.Header().Get("X-Realtime-Batch") != tc.header || w.Header().Get("Set-Cookie") != "" {
				t.Fatalf("got %d %v", w.Code, w.Header())
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Fatalf("body %q, want %q", w.Body.String(), tc.body)
			}
		})
	}
}

// A body over the bound is refused before it crosses the Relay; a
// request of this node's own, or one that already crossed, is never
// forwarded.
func TestRelayBounds(t *testing.T) {
	f := &fakeRelay{answer: encodeAnswer(http.StatusNoContent, nil, nil)}
	srv := newRelayed(t, f)
	w := httptest.NewRecorder()
	big := strings.NewReader(strings.Repeat("x", srv.relayLimit()+1))
	srv.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/sse?id=b_X", big))
	if w.Code != http.StatusRequestEntityTooLarge || f.req != nil {
		t.Fatalf("status %d, forwarded %v", w.Code, f.req != nil)
	}
	for _, id := range []string{"a_X", "X"} {
		w = httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/sse?id="+id, nil))
		if w.Code != http.StatusNotFound || f.req != nil {
			t.Fatalf("id %s: status %d, forwarded %v", id, w.Code, f.req != nil)
		}
	}
	// Through the serving side: another node's id that arrives relayed
	// gets 404, not a second hop.
	ans := srv.handleRelayed(context.Background(), []byte("POST /sse?id=c_X HTTP/1.1\r\nHost: relay\r\nContent-Length: 0\r\n\r\n"))
	if !strings.HasPrefix(string(ans), "HTTP/1.1 404 ") || f.req != nil {
		t.Fatalf("answer %q, forwarded %v", ans, f.req != nil)
	}
}

func TestRelayNodeNames(t *testing.T) {
	for name, ok := range map[string]bool{"a": true, "node-1": true, "": false, "a_b": false, "a.b": false,
		"é": false, strings.Repeat("n", 64): true, strings.Repeat("n", 65): false} {
		if validNode(name) != ok {
			t.Errorf("validNode(%q) = %v", name, !ok)
		}
		srv := New(Config{Node: name})
		if got := srv.cfg.Node; (got == name) != ok || !validNode(got) {
			t.Errorf("Node %q became %q", name, got)
		}
	}
}

// The serving side takes any bytes from the Relay without panicking or
// hanging, and answers with a well-formed HTTP answer.
func FuzzRelayHandle(f *testing.F) {
	f.Add([]byte("POST /sse?id=a_X HTTP/1.1\r\nHost: relay\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("GET /poll?id=a_X&ack=1 HTTP/1.1\r\nHost: relay\r\n\r\n"))
	f.Add([]byte("DELETE /poll?id=a_X HTTP/1.1\r\n\r\n"))
	f.Add([]byte("GET /ws HTTP/1.1\r\nHost: relay\r\n\r\n"))
	f.Add([]byte("\x00garbage"))
	srv := New(Config{Node: "a", Relay: &fakeRelay{}})
	defer srv.Close(context.Background())
	f.Fuzz(func(t *testing.T, req []byte) {
		ans := srv.handleRelayed(context.Background(), req)
		if !strings.HasPrefix(string(ans), "HTTP/1.1 ") {
			t.Fatalf("answer %q", ans)
		}
	})
}
