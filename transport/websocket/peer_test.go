//go:build !js

package websocket_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

// These tests put coder/websocket itself on the other end, to play peers
// this package never is: one that closes with a status, one that never
// reads, one that reports the frames and extensions it sees.

func rawServer(tb testing.TB, opts *ws.AcceptOptions, fn func(r *http.Request, c *ws.Conn)) *httptest.Server {
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		c, err := ws.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer func() { _ = c.CloseNow() }()
		fn(r, c)
	}))
	tb.Cleanup(func() { srv.Close(); wg.Wait() })
	return srv
}

func rawDial(t *testing.T, url string, opts *ws.DialOptions) (*ws.Conn, *http.Response) {
	t.Helper()
	c, resp, err := ws.Dial(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c, resp
}

func TestPeerCloseStatus(t *testing.T) {
	for _, tc := range []struct {
		code ws.StatusCode
		eof  bool
	}{{4001, false}, {ws.StatusGoingAway, false}, {ws.StatusNormalClosure, true}} {
		srv := rawServer(t, nil, func(_ *http.Request, c *ws.Conn) { _ = c.Close(tc.code, "bye") })
		c := dial(t, srv.URL, transport.Config{})
		_, err := c.Recv(t.Context())
		var ce ws.CloseError
		if !errors.As(err, &ce) || ce.Code != tc.code || ce.Reason != "bye" {
			t.Errorf("Recv after a close with %v = %v, want a ws.CloseError with that status", tc.code, err)
		}
		if errors.Is(err, io.EOF) != tc.eof {
			t.Errorf("status %v: errors.Is(%v, io.EOF) = %v, want %v", tc.code, err, !tc.eof, tc.eof)
		}
		err = c.Send(t.Context(), []byte("late"))
		if !errors.As(err, &ce) || ce.Code != tc.code {
			t.Errorf("Send after a close with %v = %v, want the same cause", tc.code, err)
		}
	}
}

// TestCloseSilentPeer checks that Close, at either end, does not wait long
// for a peer that never answers the close handshake.
func TestCloseSilentPeer(t *testing.T) {
	const bound = 4 * time.Second // Close waits one second; coder alone would wait five
	t.Run("Client", func(t *testing.T) {
		release := make(chan struct{})
		srv := rawServer(t, nil, func(*http.Request, *ws.Conn) { <-release })
		t.Cleanup(func() { close(release) })
		c := dial(t, srv.URL, transport.Config{})
		pending := make(chan error, 1)
		go func() { _, err := c.Recv(t.Context()); pending <- err }()
		start := time.Now()
		_ = c.Close()
		if d := time.Since(start); d > bound {
			t.Errorf("Close took %v", d)
		}
		if err := <-pending; !errors.Is(err, net.ErrClosed) {
			t.Errorf("pending Recv = %v, want net.ErrClosed", err)
		}
	})
	t.Run("Server", func(t *testing.T) {
		took := make(chan time.Duration, 1)
		srv := httptest.NewServer(websocket.NewHandler(transport.ServerConfig{
			Accept: func(_ *http.Request, c transport.Conn) {
				start := time.Now()
				_ = c.Close()
				took <- time.Since(start)
			},
		}))
		t.Cleanup(srv.Close)
		rawDial(t, srv.URL, nil) // and never read
		select {
		case d := <-took:
			if d > bound {
				t.Errorf("Close took %v", d)
			}
		case <-time.After(2 * bound):
			t.Fatal("Close did not return")
		}
	})
}

// TestFraming checks the message type on the wire: text for JSON, binary
// for CBOR, from both ends.
func TestFraming(t *testing.T) {
	types := make(chan ws.MessageType, 1)
	peer := rawServer(t, nil, func(r *http.Request, c *ws.Conn) {
		typ, _, err := c.Read(r.Context())
		if err == nil {
			types <- typ
		}
		_ = c.Close(ws.StatusNormalClosure, "")
	})
	ours := httptest.NewServer(websocket.NewHandler(transport.ServerConfig{
		Accept: func(_ *http.Request, c transport.Conn) {
			_ = c.Send(context.Background(), []byte(`{"t":"ping"}`))
			_, _ = c.Recv(context.Background()) // until the peer closes
		},
	}))
	t.Cleanup(ours.Close)
	for _, tc := range []struct {
		binary bool
		want   ws.MessageType
	}{{false, ws.MessageText}, {true, ws.MessageBinary}} {
		c := dial(t, peer.URL, transport.Config{Binary: tc.binary})
		if err := c.Send(t.Context(), []byte(`{"t":"ping"}`)); err != nil {
			t.Fatal(err)
		}
		if got := <-types; got != tc.want {
			t.Errorf("client with Binary=%v sent a %v message", tc.binary, got)
		}

		codec := map[bool]string{false: "json", true: "cbor"}[tc.binary]
		raw, _ := rawDial(t, ours.URL+"/ws?v=1&codec="+codec, nil)
		typ, _, err := raw.Read(t.Context())
		if err != nil || typ != tc.want {
			t.Errorf("server with codec=%s sent a %v message (%v), want %v", codec, typ, err, tc.want)
		}
		_ = raw.Close(ws.StatusNormalClosure, "")
	}
}

// TestCompressionNegotiation checks that the client offers permessage-deflate
// only when asked, and that the server grants it only to clients that offer it.
func TestCompressionNegotiation(t *testing.T) {
	offers := make(chan string, 1)
	peer := rawServer(t, nil, func(r *http.Request, c *ws.Conn) {
		offers <- r.Header.Get("Sec-WebSocket-Extensions")
		_ = c.Close(ws.StatusNormalClosure, "")
	})
	for _, compress := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		c, err := websocket.Transport{Compression: compress}.Dial(ctx, peer.URL, transport.Config{})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if got := <-offers; strings.Contains(got, "permessage-deflate") != compress {
			t.Errorf("Compression=%v: the client offered %q", compress, got)
		}
		_ = c.Close()
	}

	srv := echoServer(t, nil)
	for _, mode := range []ws.CompressionMode{ws.CompressionDisabled, ws.CompressionContextTakeover, ws.CompressionNoContextTakeover} {
		raw, resp := rawDial(t, srv.URL+"/ws", &ws.DialOptions{CompressionMode: mode})
		got := resp.Header.Get("Sec-WebSocket-Extensions")
		if strings.Contains(got, "permessage-deflate") != (mode != ws.CompressionDisabled) {
			t.Errorf("client mode %v: the server answered extensions %q", mode, got)
		}
		big := []byte(strings.Repeat(`{"t":"msg","d":"abc"}`, 100))
		if err := raw.Write(t.Context(), ws.MessageText, big); err != nil {
			t.Fatal(err)
		}
		if _, echo, err := raw.Read(t.Context()); err != nil || string(echo) != string(big) {
			t.Errorf("client mode %v: echo = %d bytes, %v", mode, len(echo), err)
		}
		_ = raw.Close(ws.StatusNormalClosure, "")
	}
}
