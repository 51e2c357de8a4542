package longpoll_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimekit/realtime/internal/batch"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
)

func start(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

type server struct {
	t      *testing.T
	url    string
	client *http.Client
	conns  chan transport.Conn
	checks atomic.Int32
}

func serve(t *testing.T, cfg transport.ServerConfig) *server {
	s := &server{t: t, conns: make(chan transport.Conn, 4)}
	cfg.Check = func(*http.Request) int { s.checks.Add(1); return 0 }
	var mu sync.Mutex
	var all []transport.Conn
	cfg.Accept = func(r *http.Request, c transport.Conn) {
		mu.Lock()
		all = append(all, c)
		mu.Unlock()
		s.conns <- c
		<-r.Context().Done()
	}
	// Accept outlives the HTTP server until its connection ends.
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range all {
			_ = c.Close()
		}
	})
	srv := start(t, longpoll.NewHandler(cfg))
	s.url, s.client = srv.URL+"/poll", srv.Client()
	return s
}

type answer struct {
	code  int
	batch string // X-Realtime-Batch
	body  string
}

func (s *server) do(method, query, body string) answer {
	s.t.Helper()
	req, _ := http.NewRequestWithContext(s.t.Context(), method, s.url+query, strings.NewReader(body))
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get(longpoll.BatchHeader), string(b)}
}

func (s *server) async(method, query, body string) <-chan answer {
	ch := make(chan answer, 1)
	go func() { ch <- s.do(method, query, body) }()
	return ch
}

// open opens a connection and returns its id and server end.
func (s *server) open() (string, transport.Conn) {
	s.t.Helper()
	a := s.do("POST", "?v=1&codec=json", "")
	if a.code != 200 || len(a.body) < 22 {
		s.t.Fatalf("open: %+v", a)
	}
	return a.body, <-s.conns
}

func TestServerPolls(t *testing.T) {
	s := serve(t, transport.ServerConfig{PollTimeout: 5 * time.Second})
	id, c := s.open()
	ctx := t.Context()
	for _, m := range []string{"a", "bc"} {
		if err := c.Send(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	want := answer{200, "1", "1:a2:bc"}
	if a := s.do("GET", "?id="+id+"&ack=0", ""); a != want {
		t.Fatalf("first poll %+v, want %+v", a, want)
	}
	// The answer was lost: the client polls with the same ack again.
	if a := s.do("GET", "?id="+id+"&ack=0", ""); a != want {
		t.Fatalf("repeated poll %+v, want %+v", a, want)
	}
	if a := s.do("GET", "?id="+id+"&ack=5", ""); a.code != 400 {
		t.Fatalf("poll with a wrong ack: %+v", a)
	}
	// Two polls at once: the later replaces the earlier, which gets 204
	// at once, with nothing to send yet.
	p1, p2 := s.async("GET", "?id="+id+"&ack=1", ""), s.async("GET", "?id="+id+"&ack=1", "")
	var replaced, held answer
	select {
	case replaced = <-p1:
		held = <-s.afterSend(c, p2)
	case replaced = <-p2:
		held = <-s.afterSend(c, p1)
	}
	if replaced.code != 204 || held != (answer{200, "2", "1:d"}) {
		t.Fatalf("concurrent polls: %+v and %+v", replaced, held)
	}
	if n := s.checks.Load(); n != 1 {
		t.Fatalf("Check ran %d times, want once (on open)", n)
	}
}

// afterSend sends "d" on c, then returns p.
func (s *server) afterSend(c transport.Conn, p <-chan answer) <-chan answer {
	if err := c.Send(s.t.Context(), []byte("d")); err != nil {
		s.t.Fatal(err)
	}
	return p
}

func TestServerEmptyBatchOnTimeout(t *testing.T) {
	// The connection is ended after 2 × PollTimeout without a request, so
	// the gap between one poll's answer and the next request must stay under
	// PollTimeout: a full second, for a loaded machine.
	s := serve(t, transport.ServerConfig{PollTimeout: time.Second})
	id, _ := s.open()
	for i, n := range []string{"1", "2"} {
		a := s.do("GET", "?id="+id+"&ack="+[]string{"0", "1"}[i], "")
		if a != (answer{200, n, ""}) {
			t.Fatalf("poll %d: %+v", i, a)
		}
	}
}

func TestServerCloseDrains(t *testing.T) {
	s := serve(t, transport.ServerConfig{PollTimeout: 5 * time.Second})
	id, c := s.open()
	if err := c.Send(t.Context(), []byte("bye")); err != nil {
		t.Fatal(err)
	}
	held := s.async("GET", "?id="+id+"&ack=0", "")
	if a := <-held; a != (answer{200, "1", "3:bye"}) {
		t.Fatalf("poll: %+v", a)
	}
	held = s.async("GET", "?id="+id+"&ack=1", "")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if a := <-held; a.code != 404 {
		t.Fatalf("poll held across Close: %+v, want 404", a)
	}
	if a := s.do("GET", "?id="+id+"&ack=1", ""); a.code != 404 {
		t.Fatalf("poll after Close: %+v, want 404", a)
	}
}

func TestServerExpires(t *testing.T) {
	s := serve(t, transport.ServerConfig{PollTimeout: 20 * time.Millisecond})
	id, c := s.open()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.Recv(ctx); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Recv of a connection nobody polls = %v", err)
	}
	if a := s.do("GET", "?id="+id+"&ack=0", ""); a.code != 404 {
		t.Fatalf("poll of an expired connection: %+v", a)
	}
}

func TestServerRequests(t *testing.T) {
	s := serve(t, transport.ServerConfig{ReadLimit: 4})
	id, c := s.open()
	for _, tc := range []struct {
		method, query string
		want          int
	}{
		{"GET", "", 400},
		{"GET", "?id=nope&ack=0", 404},
		{"POST", "?id=nope", 404},
		{"DELETE", "?id=nope", 404},
		{"PUT", "?id=" + id, 405},
		{"GET", "?id=" + id + "&ack=x", 400},
	} {
		if a := s.do(tc.method, tc.query, ""); a.code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.query, a.code, tc.want)
		}
	}
	posted := s.async("POST", "?id="+id, "2:ab")
	if msg, err := c.Recv(t.Context()); err != nil || string(msg) != "ab" {
		t.Fatalf("Recv = %q, %v", msg, err)
	}
	if a := <-posted; a.code != 204 {
		t.Fatalf("POST: %+v", a)
	}
	if a := s.do("POST", "?id="+id, "5:abcde"); a.code != 413 {
		t.Fatalf("POST over the limit: %+v", a)
	}
	if _, err := c.Recv(t.Context()); !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("Recv = %v, want ErrTooLarge", err)
	}

	id, c = s.open()
	if a := s.do("POST", "?id="+id, "x:"); a.code != 400 {
		t.Fatalf("POST of a malformed body: %+v", a)
	}
	if _, err := c.Recv(t.Context()); !errors.Is(err, batch.ErrMalformed) {
		t.Fatalf("Recv = %v, want ErrMalformed", err)
	}

	id, c = s.open()
	if a := s.do("DELETE", "?id="+id, ""); a.code != 204 {
		t.Fatalf("DELETE: %+v", a)
	}
	if _, err := c.Recv(t.Context()); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after DELETE = %v, want io.EOF", err)
	}
	if a := s.do("GET", "?id="+id+"&ack=0", ""); a.code != 404 {
		t.Fatalf("poll after DELETE: %+v", a)
	}
}
