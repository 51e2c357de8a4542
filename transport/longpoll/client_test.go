package longpoll_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimekit/realtime/internal/batch"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
)

// fake answers the open POST with id "c1", each poll with poll (after the
// first, which it holds until the client goes away, if hold is set), and
// upstream POSTs with post (nil: 204).
type fake struct {
	poll func(w http.ResponseWriter, r *http.Request, ack string)
	post http.HandlerFunc
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && q.Get("id") == "":
		_, _ = io.WriteString(w, "c1")
	case r.Method == http.MethodGet:
		f.poll(w, r, q.Get("ack"))
	case r.Method == http.MethodPost && f.post != nil:
		f.post(w, r)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// hold keeps a poll open until the client goes away.
func hold(w http.ResponseWriter, r *http.Request, ack string) { <-r.Context().Done() }

// answerOnce answers the first poll with a batch of number n, header h
// and body, and holds the later ones.
func answerOnce(h, body string) func(w http.ResponseWriter, r *http.Request, ack string) {
	return func(w http.ResponseWriter, r *http.Request, ack string) {
		if ack != "0" {
			hold(w, r, ack)
			return
		}
		if h != "" {
			w.Header().Set(longpoll.BatchHeader, h)
		}
		_, _ = io.WriteString(w, body)
	}
}

func dial(t *testing.T, srv *httptest.Server, cfg transport.Config) transport.Conn {
	t.Helper()
	cfg.HTTPClient = srv.Client()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := longpoll.Transport{}.Dial(ctx, srv.URL, cfg)
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

func TestPollAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, header, body string
		want               []string
		err                error
	}{
		{"batch", "1", "1:a2:bc", []string{"a", "bc"}, nil},
		{"not a batch", "1", "<html>proxy error</html>", nil, batch.ErrMalformed},
		{"cut short", "1", "1:a5:bc", []string{"a"}, batch.ErrTruncated},
		{"over the limit", "1", "9:123456789", nil, transport.ErrTooLarge},
		{"no batch number", "", "1:a", nil, errors.New(longpoll.BatchHeader)},
		{"wrong batch number", "2", "1:a", nil, errors.New(longpoll.BatchHeader)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := start(t, &fake{poll: answerOnce(tc.header, tc.body)})
			c := dial(t, srv, transport.Config{ReadLimit: 8})
			for _, want := range tc.want {
				if msg, err := recv(t, c); err != nil || string(msg) != want {
					t.Fatalf("Recv = %q, %v; want %q", msg, err, want)
				}
			}
			if tc.err == nil {
				return
			}
			_, err := recv(t, c)
			if err == nil || !errors.Is(err, tc.err) && !strings.Contains(err.Error(), tc.err.Error()) {
				t.Fatalf("Recv = %v, want %v", err, tc.err)
			}
		})
	}
}

// Each poll acknowledges the batch before it; a 204 (a replaced poll) is
// followed by the same poll again.
func TestPollAcks(t *testing.T) {
	acks := make(chan string, 8)
	var polls atomic.Int32
	srv := start(t, &fake{poll: func(w http.ResponseWriter, r *http.Request, ack string) {
		acks <- ack + " " + r.Header.Get("X-Test")
		switch polls.Add(1) {
		case 1:
			w.Header().Set(longpoll.BatchHeader, "1")
			_, _ = io.WriteString(w, "1:a")
		case 2:
			w.WriteHeader(http.StatusNoContent)
		default:
			hold(w, r, ack)
		}
	}})
	c := dial(t, srv, transport.Config{Header: http.Header{"X-Test": {"1"}}})
	if msg, err := recv(t, c); err != nil || string(msg) != "a" {
		t.Fatalf("Recv = %q, %v", msg, err)
	}
	for i, want := range []string{"0 1", "1 1", "1 1"} {
		select {
		case got := <-acks:
			if got != want {
				t.Fatalf("poll %d carried ack=%s, want %s", i, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("poll %d did not come", i)
		}
	}
}

func TestOpenRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		status  int
	}{
		{"forbidden", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }, http.StatusForbidden},
		{"unauthorized", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusUnauthorized) }, http.StatusUnauthorized},
		{"html page", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "<html>hi</html>") }, 200},
		{"empty id", func(w http.ResponseWriter, r *http.Request) {}, 200},
		{"id too long", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, strings.Repeat("a", 300)) }, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := start(t, tc.handler)
			_, err := longpoll.Transport{}.Dial(t.Context(), srv.URL, transport.Config{HTTPClient: srv.Client()})
			var he *transport.HandshakeError
			if !errors.As(err, &he) || he.StatusCode != tc.status || he.Transport != "longpoll" {
				t.Fatalf("Dial = %v, want a HandshakeError with status %d", err, tc.status)
			}
		})
	}
}

func TestRedirectLoops(t *testing.T) {
	loop := func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.String(), http.StatusTemporaryRedirect)
	}
	srv := start(t, http.HandlerFunc(loop))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := (longpoll.Transport{}).Dial(ctx, srv.URL, transport.Config{HTTPClient: srv.Client()}); !errors.Is(err, transport.ErrRedirect) {
		t.Fatalf("Dial = %v, want a *transport.RedirectError", err)
	}

	for _, where := range []string{"poll", "post"} {
		f := &fake{poll: hold}
		if where == "poll" {
			f.poll = func(w http.ResponseWriter, r *http.Request, _ string) { loop(w, r) }
		} else {
			f.post = loop
		}
		srv := start(t, f)
		c := dial(t, srv, transport.Config{})
		_ = c.Send(t.Context(), []byte("x"))
		if _, err := recv(t, c); !errors.Is(err, transport.ErrRedirect) {
			t.Fatalf("%s: Recv = %v, want a *transport.RedirectError", where, err)
		}
	}
}

func TestPostFailures(t *testing.T) {
	for _, code := range []int{500, 404, 413} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			srv := start(t, &fake{poll: hold, post: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }})
			c := dial(t, srv, transport.Config{})
			if err := c.Send(t.Context(), []byte("hello")); err != nil {
				t.Fatalf("Send = %v; it only queues", err)
			}
			_, err := recv(t, c)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprint(code)) {
				t.Fatalf("Recv = %v, want an error naming HTTP %d", err, code)
			}
			if err := c.Send(t.Context(), []byte("again")); err == nil {
				t.Fatal("Send after a failed POST succeeded")
			}
		})
	}
}

func TestPollFailure(t *testing.T) {
	srv := start(t, &fake{poll: func(w http.ResponseWriter, r *http.Request, _ string) { http.Error(w, "boom", 500) }})
	c := dial(t, srv, transport.Config{})
	if _, err := recv(t, c); err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("Recv = %v, want HTTP 500", err)
	}
}
