package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

const foreign = "https://evil.example"

// handshakeStatus sends the opening request of a transport from origin
// and returns the response's status and header.
func handshakeStatus(t *testing.T, url, name, origin string) (int, http.Header) {
	t.Helper()
	var req *http.Request
	switch name {
	case "websocket":
		req, _ = http.NewRequestWithContext(ctxWait(t), http.MethodGet, url+"/ws?v=1", nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	case "sse":
		req, _ = http.NewRequestWithContext(ctxWait(t), http.MethodGet, url+"/sse?v=1", nil)
	case "longpoll":
		req, _ = http.NewRequestWithContext(ctxWait(t), http.MethodPost, url+"/poll?v=1", nil)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	resp.Body.Close() // ends an SSE stream; a long-poll connection expires
	return resp.StatusCode, resp.Header
}

var transportNames = []string{"websocket", "sse", "longpoll"}

func TestForeignOriginRefusedByDefault(t *testing.T) {
	_, url := start(t, server.Config{})
	for _, name := range transportNames {
		if code, _ := handshakeStatus(t, url, name, foreign); code != http.StatusForbidden {
			t.Errorf("%s from a foreign origin: %d, want 403", name, code)
		}
		same := "http://" + strings.TrimPrefix(url, "http://")
		if code, _ := handshakeStatus(t, url, name, same); code >= 300 {
			t.Errorf("%s from the same origin: %d, want it served", name, code)
		}
	}
	// A poll or a post of an existing connection is held to it too.
	req, _ := http.NewRequestWithContext(ctxWait(t), http.MethodGet, url+"/poll?id=x", nil)
	req.Header.Set("Origin", foreign)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("poll from a foreign origin: %d, want 403", resp.StatusCode)
	}
}

func TestAllowedOriginServed(t *testing.T) {
	_, url := start(t, server.Config{AllowedOrigins: []string{"https://*.example.com"}})
	const app = "https://app.example.com"
	for _, name := range []string{"sse", "longpoll"} {
		code, h := handshakeStatus(t, url, name, app)
		if code != http.StatusOK {
			t.Errorf("%s from an allowed origin: %d, want 200", name, code)
		}
		if h.Get("Access-Control-Allow-Origin") != app || h.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("%s: CORS headers %v", name, h)
		}
		if code, _ := handshakeStatus(t, url, name, foreign); code != http.StatusForbidden {
			t.Errorf("%s from an origin not listed: %d, want 403", name, code)
		}
	}
	// WebSocket: the transport's own same-origin check must not undo the
	// configuration.
	conn, err := websocket.Transport{}.Dial(ctxWait(t), url, transport.Config{Header: http.Header{"Origin": {app}}})
	if err != nil {
		t.Fatalf("websocket from an allowed origin: %v", err)
	}
	_ = conn.Close()

	for _, p := range []string{"/sse", "/poll"} {
		req, _ := http.NewRequestWithContext(ctxWait(t), http.MethodOptions, url+p+"?v=1", nil)
		req.Header.Set("Origin", app)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, x-trace")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != app ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "x-trace") {
			t.Errorf("preflight %s: %d %v", p, resp.StatusCode, h)
		}
	}
}
