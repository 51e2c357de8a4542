package httpconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimekit/realtime/internal/batch"
)

// post answers a POST of body numbered n (0: unnumbered) through in.
func post(in *Inbox, body string, n uint64) (int, error) {
	r := httptest.NewRequest(http.MethodPost, "/sse?id=x", strings.NewReader(body))
	if n > 0 {
		r.Header.Set(PostHeader, strconv.FormatUint(n, 10))
	}
	w := httptest.NewRecorder()
	err := in.ServePost(w, r, 0)
	return w.Code, err
}

// collect takes messages from in until the test ends.
func collect(t *testing.T, in *Inbox) func() []string {
	var mu sync.Mutex
	var got []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case m := <-in.C():
				mu.Lock()
				got = append(got, string(m))
				mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// TestInboxTakesEachPostNumberOnce: a resent POST (same number) delivers
// nothing again, whatever frames it holds; a number that skips one is a
// bad request; unnumbered POSTs (older clients) are taken as they come.
func TestInboxTakesEachPostNumberOnce(t *testing.T) {
	in := NewInbox(make(chan struct{}))
	got := collect(t, in)
	want := []string{`{"t":"ack","a":42}`, `{"t":"sub","s":1,"c":"x"}`, `{"t":"pub","s":2,"c":"x","d":1}`, `{"t":"unsub","s":3,"c":"x"}`}
	var b1, b2 []byte
	for _, m := range want[:2] {
		b1 = batch.Append(b1, []byte(m))
	}
	for _, m := range want[2:] {
		b2 = batch.Append(b2, []byte(m))
	}
	batch1, batch2 := string(b1), string(b2)
	for _, step := range []struct {
		body string
		n    uint64
		code int
	}{
		{batch1, 1, 204}, {batch1, 1, 204}, {batch2, 2, 204}, {batch1, 1, 204}, {batch2, 2, 204},
	} {
		if code, err := post(in, step.body, step.n); code != step.code || err != nil {
			t.Fatalf("POST %d: %d, %v; want %d", step.n, code, err, step.code)
		}
	}
	// An unnumbered POST goes through, and once it is in, everything
	// taken before it is too (the collector is sequential).
	if code, err := post(in, "3:end", 0); code != 204 || err != nil {
		t.Fatalf("unnumbered POST: %d, %v", code, err)
	}
	waitUntil(t, func() bool { g := got(); return len(g) > 0 && g[len(g)-1] == "end" })
	if g := got(); fmt.Sprint(g) != fmt.Sprint(append(want, "end")) {
		t.Fatalf("delivered %q, want each once: %q", g, want)
	}
	if code, err := post(in, batch1, 4); code != http.StatusBadRequest || !errors.Is(err, batch.ErrMalformed) {
		t.Errorf("POST 4 after 2: %d, %v; want 400 and an error that ends the connection", code, err)
	}
}

func TestInboxRefusesBadNumbersAndBrokenResends(t *testing.T) {
	in := NewInbox(make(chan struct{}))
	for _, h := range []string{"0", "-1", "x", "99999999999999999999999"} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("1:a"))
		r.Header.Set(PostHeader, h)
		w := httptest.NewRecorder()
		if err := in.ServePost(w, r, 0); w.Code != http.StatusBadRequest || err == nil {
			t.Errorf("%s %q: %d, %v; want 400 and an error", PostHeader, h, w.Code, err)
		}
	}
	// A POST whose body breaks part way cannot be resent safely.
	got := collect(t, in)
	if code, err := post(in, "1:a1:b5:c", 1); err == nil || code != http.StatusBadRequest {
		t.Fatalf("a truncated batch: %d, %v; want 400 and an error", code, err)
	}
	if code, _ := post(in, "1:a1:b1:c", 1); code != http.StatusNotFound {
		t.Errorf("the resend of a POST that broke part way: %d, want 404", code)
	}
	time.Sleep(10 * time.Millisecond) // the collector is asynchronous; nothing more may come
	if g := got(); len(g) > 2 {
		t.Errorf("delivered %q", g)
	}
}

// keepAliveCloser serves an Inbox and, once, drops the second request made
// on one keep-alive connection: before reading it (afterServe false), or
// after the Inbox took it, so that only the answer is lost (afterServe
// true). This is what a forward proxy that closes idle connections does.
type keepAliveCloser struct {
	in         *Inbox
	afterServe bool
	dropNumber string // drop every request of this POST number instead
	dropped    atomic.Int32
	attempts   sync.Map // PostHeader value -> *atomic.Int32
}

type connKey struct{}

func (k *keepAliveCloser) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, _ := k.attempts.LoadOrStore(r.Header.Get(PostHeader), new(atomic.Int32))
	n.(*atomic.Int32).Add(1)
	uses := r.Context().Value(connKey{}).(*atomic.Int32).Add(1)
	drop := uses >= 2 && k.dropped.Load() == 0 && k.dropNumber == ""
	if drop || (k.dropNumber != "" && r.Header.Get(PostHeader) == k.dropNumber) {
		k.dropped.Add(1)
		if k.afterServe {
			_ = k.in.ServePost(httptest.NewRecorder(), r, 0)
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	_ = k.in.ServePost(w, r, 0)
}

func startCloser(t *testing.T, k *keepAliveCloser) (*httptest.Server, *http.Client) {
	srv := httptest.NewUnstartedServer(k)
	srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, new(atomic.Int32))
	}
	srv.Start()
	t.Cleanup(srv.Close)
	// One connection at a time, so that a second POST reuses the first's.
	tr := &http.Transport{MaxConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	return srv, &http.Client{Transport: tr}
}

// TestSenderResendsOnAClosedKeepAliveConnection: a POST that fails with
// EOF on a reused connection is resent once, the link survives, and the
// server takes every message exactly once, whether the lost request had
// reached it or not.
func TestSenderResendsOnAClosedKeepAliveConnection(t *testing.T) {
	for _, afterServe := range []bool{false, true} {
		t.Run(fmt.Sprintf("answerLost=%v", afterServe), func(t *testing.T) {
			in := NewInbox(make(chan struct{}))
			got := collect(t, in)
			k := &keepAliveCloser{in: in, afterServe: afterServe}
			srv, hc := startCloser(t, k)
			var failed atomic.Value
			s := NewSender(t.Context(), SenderConfig{Name: "test", Client: hc, URL: srv.URL,
				OnError: func(err error) { failed.Store(err) }})
			defer s.Close(time.Second)
			const n = 20
			var want []string
			for i := range n {
				msg := strconv.Itoa(i)
				want = append(want, msg)
				if err := s.Send(t.Context(), []byte(msg)); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
				waitUntil(t, func() bool { return len(got()) == i+1 || failed.Load() != nil })
			}
			if err := failed.Load(); err != nil {
				t.Fatalf("the Sender failed: %v", err)
			}
			if k.dropped.Load() != 1 {
				t.Fatalf("%d requests dropped, want 1: no keep-alive connection was reused", k.dropped.Load())
			}
			if g := got(); fmt.Sprint(g) != fmt.Sprint(want) {
				t.Fatalf("server took %q, want %q", g, want)
			}
		})
	}
}

// TestSenderResendsAtMostOnce: a server that drops POST 2 every time sees
// it twice, then the Sender fails; and a client whose every try fails on a
// reused connection still tries MaxAttempts (2) times, no more.
func TestSenderResendsAtMostOnce(t *testing.T) {
	t.Run("Network", func(t *testing.T) {
		in := NewInbox(make(chan struct{}))
		got := collect(t, in)
		k := &keepAliveCloser{in: in, dropNumber: "2"}
		srv, hc := startCloser(t, k)
		errc := make(chan error, 1)
		s := NewSender(t.Context(), SenderConfig{Name: "test", Client: hc, URL: srv.URL,
			OnError: func(err error) { errc <- err }})
		defer s.Close(time.Second)
		if err := s.Send(t.Context(), []byte("first")); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, func() bool { return len(got()) == 1 })
		if err := s.Send(t.Context(), []byte("second")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-errc:
		case <-time.After(10 * time.Second):
			t.Fatal("the Sender did not fail")
		}
		v, _ := k.attempts.Load("2")
		if a := v.(*atomic.Int32).Load(); a != MaxAttempts {
			t.Errorf("POST 2 was sent %d times, want %d", a, MaxAttempts)
		}
	})
	t.Run("EveryTryOnAReusedConnection", func(t *testing.T) {
		var tries atomic.Int32
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			tries.Add(1)
			if tr := httptrace.ContextClientTrace(r.Context()); tr != nil && tr.GotConn != nil {
				tr.GotConn(httptrace.GotConnInfo{Reused: true})
			}
			return nil, io.EOF
		})
		errc := make(chan error, 1)
		s := NewSender(t.Context(), SenderConfig{Name: "test", Client: &http.Client{Transport: rt}, URL: "http://127.0.0.1:1/",
			OnError: func(err error) { errc <- err }})
		defer s.Close(time.Second)
		if err := s.Send(t.Context(), []byte("m")); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, io.EOF) {
				t.Errorf("OnError(%v), want io.EOF", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the Sender did not fail")
		}
		if n := tries.Load(); n != MaxAttempts {
			t.Errorf("%d tries, want %d", n, MaxAttempts)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
