package sse_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimekit/realtime/internal/batch"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/sse"
)

// fakeServer serves a scripted SSE stream: stream writes the body of each
// GET after the headers; POSTs and DELETEs go to post and del (nil: 204).
type fakeServer struct {
	stream func(w http.ResponseWriter, r *http.Request)
	post   func(w http.ResponseWriter, r *http.Request)
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/event-stream")
		f.stream(w, r)
	case http.MethodPost:
		if f.post != nil {
			f.post(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func start(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// openThen writes the open event, then tail, then holds the stream until
// the client goes away if hold is set.
func openThen(tail string, hold bool) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "event: open\ndata: c1\n\n"+tail)
		w.(http.Flusher).Flush()
		if hold {
			<-r.Context().Done()
		}
	}
}

func dial(t *testing.T, srv *httptest.Server, cfg transport.Config) transport.Conn {
	t.Helper()
	cfg.HTTPClient = srv.Client()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := sse.Transport{}.Dial(ctx, srv.URL, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func recv(t *testing.T, c transport.Conn) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	msg, err := c.Recv(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("Recv did not return within 5s")
	}
	return msg, err
}

func TestRecvStreams(t *testing.T) {
	big := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name   string
		tail   string
		binary bool
		want   []string
		err    error
	}{
		{"clean end", "data: a\n\n", false, []string{"a"}, io.EOF},
		{"garbage", "data: a\n\n\x00\x01\x02garbage\xff", false, []string{"a"}, io.ErrUnexpectedEOF},
		{"cut mid-event", "data: a\n\ndata: {\"t\":", false, []string{"a"}, sse.ErrTruncated},
		{"cut after a data line", "data: a\n\ndata: b\n", false, []string{"a"}, sse.ErrTruncated},
		{"event over the limit", "data: a\n\ndata: " + big + "\n\n", false, []string{"a"}, transport.ErrTooLarge},
		{"lines over the limit", "data: " + big[:40] + "\ndata: " + big[:40] + "\n\n", false, nil, transport.ErrTooLarge},
		{"named events and comments ignored", ": hi\nevent: foo\ndata: x\n\nevent: message\ndata: a\n\ndata: b\r\n\r\n", false, []string{"a", "b"}, io.EOF},
		{"multi-line text", "data: a\ndata: b\n\n", false, []string{"a\nb"}, io.EOF},
		{"binary", "data: AAH/\n\n", true, []string{"\x00\x01\xff"}, io.EOF},
		{"binary over the limit", "data: " + strings.Repeat("AAAA", 22) + "\n\n", true, nil, transport.ErrTooLarge},
		{"not base64", "data: !!\n\n", true, nil, errors.New("")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := start(t, &fakeServer{stream: openThen(tc.tail, false)})
			c := dial(t, srv, transport.Config{ReadLimit: 64, Binary: tc.binary})
			for _, want := range tc.want {
				msg, err := recv(t, c)
				if err != nil || string(msg) != want {
					t.Fatalf("Recv = %q, %v; want %q", msg, err, want)
				}
			}
			_, err := recv(t, c)
			if err == nil || (tc.err.Error() != "" && !errors.Is(err, tc.err)) {
				t.Fatalf("Recv = %v, want %v", err, tc.err)
			}
			var tl *transport.TooLargeError
			if errors.Is(tc.err, transport.ErrTooLarge) && (!errors.As(err, &tl) || tl.Limit != 64) {
				t.Fatalf("Recv = %v, want a TooLargeError with the read limit", err)
			}
			if err2 := c.Send(t.Context(), []byte("x")); err2 == nil {
				t.Fatal("Send on a broken connection succeeded")
			}
		})
	}
}

func TestDialRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		status  int
	}{
		{"forbidden", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }, http.StatusForbidden},
		{"unauthorized", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusUnauthorized) }, http.StatusUnauthorized},
		{"html page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>proxy says hi</html>")
		}, 200},
		{"no open event", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: hello\n\n")
		}, 200},
		{"garbage", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "\x00\x01garbage")
		}, 200},
		{"empty stream", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := start(t, tc.handler)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			c, err := sse.Transport{}.Dial(ctx, srv.URL, transport.Config{HTTPClient: srv.Client()})
			var he *transport.HandshakeError
			if !errors.As(err, &he) || he.StatusCode != tc.status || he.Transport != "sse" {
				if c != nil {
					c.Close()
				}
				t.Fatalf("Dial = %v, want a HandshakeError with status %d", err, tc.status)
			}
		})
	}
}

// A proxy that buffers the stream holds the open event back: Dial must
// wait for it until ctx ends, and then give up cleanly.
func TestDialWaitsForOpenEvent(t *testing.T) {
	gone := make(chan struct{})
	srv := start(t, &fakeServer{stream: func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(gone)
	}})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := sse.Transport{}.Dial(ctx, srv.URL, transport.Config{HTTPClient: srv.Client()})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v, want context.DeadlineExceeded", err)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was not closed after Dial gave up")
	}
}

func TestDialRedirectLoop(t *testing.T) {
	srv := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.String(), http.StatusFound)
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := sse.Transport{}.Dial(ctx, srv.URL, transport.Config{HTTPClient: srv.Client()})
	if !errors.Is(err, transport.ErrRedirect) {
		t.Fatalf("Dial = %v, want a *transport.RedirectError", err)
	}
}

func TestPostFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		post http.HandlerFunc
		want string
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, "HTTP 500"},
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, "404"},
		{"413", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "big", http.StatusRequestEntityTooLarge) }, "413"},
		{"redirect loop", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.String(), http.StatusTemporaryRedirect)
		}, "refused: loop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := start(t, &fakeServer{stream: openThen("", true), post: tc.post})
			c := dial(t, srv, transport.Config{})
			if err := c.Send(t.Context(), []byte("hello")); err != nil {
				t.Fatalf("Send = %v; it only queues", err)
			}
			_, err := recv(t, c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Recv = %v, want an error saying %q", err, tc.want)
			}
			if tc.name == "413" && !errors.Is(err, transport.ErrTooLarge) {
				t.Errorf("Recv = %v, want ErrTooLarge", err)
			}
			if err := c.Send(t.Context(), []byte("again")); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send after the failed POST = %v", err)
			}
		})
	}
}

// Messages queued while a POST is in flight all go in the next POST.
func TestSendBatches(t *testing.T) {
	var mu sync.Mutex
	var posts [][][]byte
	inFlight, release := make(chan struct{}), make(chan struct{})
	srv := start(t, &fakeServer{stream: openThen("", true), post: func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != batch.ContentType {
			t.Errorf("POST Content-Type = %q", ct)
		}
		body, _ := io.ReadAll(r.Body)
		msgs, err := batch.Split(body, 0)
		if err != nil {
			t.Errorf("POST body: %v", err)
		}
		mu.Lock()
		posts = append(posts, msgs)
		n := len(posts)
		mu.Unlock()
		if n == 1 {
			close(inFlight)
			<-release
		}
		w.WriteHeader(http.StatusNoContent)
	}})
	c := dial(t, srv, transport.Config{})
	ctx := t.Context()
	if err := c.Send(ctx, []byte("first")); err != nil {
		t.Fatal(err)
	}
	<-inFlight
	for i := range 100 {
		if err := c.Send(ctx, fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := c.Close(); err != nil { // flushes the queue
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 2 || len(posts[0]) != 1 || len(posts[1]) != 100 {
		t.Fatalf("POSTs carried %d batches; want 2: 1 message, then 100", len(posts))
	}
	for i, m := range posts[1] {
		if string(m) != fmt.Sprint("m", i) {
			t.Fatalf("message %d = %q", i, m)
		}
	}
}

func TestBaseURL(t *testing.T) {
	var got []string
	var mu sync.Mutex
	srv := start(t, &fakeServer{stream: func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.String())
		mu.Unlock()
		openThen("", false)(w, r)
	}})
	ctx := t.Context()
	for _, base := range []string{srv.URL + "/rt/", "ws" + strings.TrimPrefix(srv.URL, "http") + "/rt?tenant=a"} {
		c, err := sse.Transport{}.Dial(ctx, base, transport.Config{HTTPClient: srv.Client(), Codec: "cbor"})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if _, err := (sse.Transport{}).Dial(ctx, "ftp://x", transport.Config{}); err == nil {
		t.Error("Dial of an ftp URL succeeded")
	}
	want := []string{"/rt/sse?codec=cbor&v=1", "/rt/sse?codec=cbor&tenant=a&v=1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("requests %q, want %q", got, want)
	}
}
