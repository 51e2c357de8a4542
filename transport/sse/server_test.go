package sse_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/realtimekit/realtime/internal/batch"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/sse"
)

// serve starts NewHandler with cfg; conns delivers each accepted conn,
// which Accept owns until the connection ends.
func serve(t *testing.T, cfg transport.ServerConfig) (base string, client *http.Client, conns chan transport.Conn) {
	conns = make(chan transport.Conn, 4)
	cfg.Accept = func(r *http.Request, c transport.Conn) {
		conns <- c
		<-r.Context().Done()
	}
	srv := start(t, sse.NewHandler(cfg))
	return srv.URL, srv.Client(), conns
}

// openStream GETs a stream and returns its parser and the connection id.
func openStream(t *testing.T, base string, client *http.Client, query string) (*http.Response, *sse.Parser, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/sse?v=1&"+query, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("GET: %s", resp.Status)
	}
	p := sse.NewParser(resp.Body, 0)
	ev, err := p.Next()
	if err != nil || ev.Type != "open" || len(ev.Data) < 22 {
		t.Fatalf("first event %+v, %v; want an open event with an id", ev, err)
	}
	return resp, p, ev.Data
}

func do(t *testing.T, client *http.Client, method, url, body string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestServerStream(t *testing.T) {
	base, client, conns := serve(t, transport.ServerConfig{})
	resp, p, _ := openStream(t, base, client, "codec=json")
	h := resp.Header
	if h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-cache" || h.Get("X-Accel-Buffering") != "" {
		t.Fatalf("headers %v", h)
	}
	c := <-conns
	ctx := t.Context()
	if err := c.Send(ctx, []byte("a\r\nb")); err == nil {
		t.Error("Send of text with a CR succeeded")
	}
	if err := c.Send(ctx, []byte(`{"t":"msg"}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, []byte("a\n b\n")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []sse.Event{{Data: `{"t":"msg"}`}, {Data: "a\n b\n"}} {
		if ev, err := p.Next(); err != nil || ev != want {
			t.Fatalf("event %+v, %v; want %+v", ev, err, want)
		}
	}
	// Close ends the stream.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Next(); err != io.EOF {
		t.Fatalf("after Close: %v, want io.EOF", err)
	}
}

func TestServerBinary(t *testing.T) {
	base, client, conns := serve(t, transport.ServerConfig{})
	_, p, id := openStream(t, base, client, "codec=cbor")
	c := <-conns
	if err := c.Send(t.Context(), []byte{0, 1, 0xff, '\r'}); err != nil {
		t.Fatal(err)
	}
	if ev, err := p.Next(); err != nil || ev.Data != "AAH/DQ==" {
		t.Fatalf("event %+v, %v", ev, err)
	}
	body := batch.Append(nil, []byte{0xff, '\r', '\n'})
	posted := make(chan int, 1)
	go func() { posted <- do(t, client, "POST", base+"/sse?id="+id, string(body)) }()
	if msg, err := c.Recv(t.Context()); err != nil || string(msg) != "\xff\r\n" {
		t.Fatalf("Recv = %q, %v", msg, err)
	}
	if code := <-posted; code != 204 {
		t.Fatalf("POST: %d", code)
	}
}

func TestServerRequests(t *testing.T) {
	base, client, conns := serve(t, transport.ServerConfig{ReadLimit: 8})
	_, _, id := openStream(t, base, client, "")
	c := <-conns
	for _, tc := range []struct {
		method, query, body string
		want                int
	}{
		{"POST", "", "", 400},
		{"POST", "?id=nope", "", 404},
		{"DELETE", "?id=nope", "", 404},
		{"PUT", "?id=" + id, "", 405},
		{"POST", "?id=" + id, "", 204},
		{"POST", "?id=" + id, "1:a", 204},
	} {
		got := make(chan int, 1)
		go func() { got <- do(t, client, tc.method, base+"/x"+tc.query, tc.body) }()
		if tc.body != "" {
			if msg, err := c.Recv(t.Context()); err != nil || string(msg) != "a" {
				t.Fatalf("Recv = %q, %v", msg, err)
			}
		}
		if got := <-got; got != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.query, got, tc.want)
		}
	}
	// A message over the limit: 413, and the connection is over.
	if got := do(t, client, "POST", base+"/sse?id="+id, "9:123456789"); got != 413 {
		t.Fatalf("POST over the limit: %d, want 413", got)
	}
	var tl *transport.TooLargeError
	if _, err := c.Recv(t.Context()); !errors.As(err, &tl) || tl.Limit != 8 {
		t.Fatalf("Recv = %v, want a TooLargeError with limit 8", err)
	}
}

func TestServerMalformedPost(t *testing.T) {
	base, client, conns := serve(t, transport.ServerConfig{})
	_, p, id := openStream(t, base, client, "")
	c := <-conns
	posted := make(chan int, 1)
	go func() { posted <- do(t, client, "POST", base+"/sse?id="+id, "1:a01:b") }()
	if msg, err := c.Recv(t.Context()); err != nil || string(msg) != "a" {
		t.Fatalf("Recv = %q, %v; the message before the error counts", msg, err)
	}
	if got := <-posted; got != 400 {
		t.Fatalf("POST of a malformed body: %d, want 400", got)
	}
	if _, err := p.Next(); err != io.EOF {
		t.Fatalf("stream after a malformed POST: %v, want its end", err)
	}
	if _, err := c.Recv(t.Context()); !errors.Is(err, batch.ErrMalformed) {
		t.Fatalf("Recv = %v, want ErrMalformed", err)
	}
}

// A server that does not read holds the POST: the inbox buffers nothing.
func TestServerPostWaitsForRecv(t *testing.T) {
	base, client, conns := serve(t, transport.ServerConfig{})
	_, _, id := openStream(t, base, client, "")
	c := <-conns
	posted := make(chan int, 1)
	go func() { posted <- do(t, client, "POST", base+"/sse?id="+id, "1:a1:b") }()
	if msg, err := c.Recv(t.Context()); err != nil || string(msg) != "a" {
		t.Fatalf("Recv = %q, %v", msg, err)
	}
	select {
	case code := <-posted:
		t.Fatalf("POST answered %d before its second message was taken", code)
	default:
	}
	if msg, err := c.Recv(t.Context()); err != nil || string(msg) != "b" {
		t.Fatalf("Recv = %q, %v", msg, err)
	}
	if code := <-posted; code != 204 {
		t.Fatalf("POST: %d", code)
	}
}

func TestServerDeleteAndCheck(t *testing.T) {
	base, client, conns := serve(t, transport.ServerConfig{Check: func(r *http.Request) int {
		if r.Header.Get("Authorization") == "" {
			return http.StatusUnauthorized
		}
		return 0
	}})
	if code := do(t, client, "GET", base+"/sse", ""); code != 401 {
		t.Fatalf("GET without credentials: %d", code)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/sse", nil)
	req.Header.Set("Authorization", "x")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := sse.NewParser(resp.Body, 0)
	ev, _ := p.Next()
	c := <-conns
	if code := do(t, client, "DELETE", base+"/sse?id="+ev.Data, ""); code != 204 {
		t.Fatalf("DELETE: %d", code)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.Recv(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after DELETE = %v, want io.EOF", err)
	}
	if _, err := p.Next(); err != io.EOF {
		t.Fatalf("stream after DELETE: %v", err)
	}
}
