//go:build !js

package websocket_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/transporttest"
	"github.com/realtimekit/realtime/transport/websocket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

func TestConformance(t *testing.T) {
	t.Run("Plain", func(t *testing.T) {
		transporttest.Run(t, transporttest.Subject{Transport: websocket.Transport{}, NewHandler: websocket.NewHandler})
	})
	t.Run("Compression", func(t *testing.T) {
		transporttest.Run(t, transporttest.Subject{
			Transport:  websocket.Transport{Compression: true},
			NewHandler: websocket.NewHandler,
		})
	})
}

func TestName(t *testing.T) {
	if got := (websocket.Transport{}).Name(); got != "websocket" {
		t.Errorf("Name() = %q", got)
	}
}

func TestDialURL(t *testing.T) {
	for _, tc := range []struct{ base, codec, want string }{
		{"http://h:1", "", "ws://h:1/ws?codec=json&v=1"},
		{"https://h/rt/", "cbor", "wss://h/rt/ws?codec=cbor&v=1"},
		{"ws://h/rt", "json", "ws://h/rt/ws?codec=json&v=1"},
		{"wss://h/a%2Fb", "", "wss://h/a%2Fb/ws?codec=json&v=1"},
		{"HTTP://h/rt?tenant=x&v=9#frag", "", "ws://h/rt/ws?codec=json&tenant=x&v=1"},
	} {
		got, err := websocket.DialURL(tc.base, tc.codec)
		if err != nil || got != tc.want {
			t.Errorf("DialURL(%q, %q) = %q, %v; want %q", tc.base, tc.codec, got, err, tc.want)
		}
	}
	for _, bad := range []string{"ftp://h/", "h:1", "http://", "://x"} {
		if got, err := websocket.DialURL(bad, ""); err == nil {
			t.Errorf("DialURL(%q) = %q, want an error", bad, got)
		}
	}
}

// echoServer serves NewHandler with an Accept that echoes every message,
// and waits for its handlers when the test ends.
func echoServer(tb testing.TB, check func(*http.Request) int) *httptest.Server {
	var wg sync.WaitGroup
	h := websocket.NewHandler(transport.ServerConfig{
		Check: check,
		Accept: func(_ *http.Request, c transport.Conn) {
			for {
				msg, err := c.Recv(context.Background())
				if err != nil {
					return
				}
				if err := c.Send(context.Background(), msg); err != nil {
					return
				}
			}
		},
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		h.ServeHTTP(w, r)
	}))
	tb.Cleanup(func() { srv.Close(); wg.Wait() })
	return srv
}

func dial(tb testing.TB, url string, cfg transport.Config) transport.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Transport{}.Dial(ctx, url, cfg)
	if err != nil {
		tb.Fatalf("Dial: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func roundTrip(t *testing.T, c transport.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Send(ctx, []byte(msg)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got, err := c.Recv(ctx)
	if err != nil || string(got) != msg {
		t.Fatalf("Recv = %q, %v; want %q", got, err, msg)
	}
}

// TestNotUpgrade checks what a plain HTTP request gets: 426 and a hint to
// upgrade when Check passes it, Check's status when Check refuses it.
func TestNotUpgrade(t *testing.T) {
	srv := echoServer(t, func(r *http.Request) int {
		if r.URL.Query().Get("deny") != "" {
			return http.StatusTeapot
		}
		return 0
	})
	for _, tc := range []struct {
		query string
		want  int
	}{{"", http.StatusUpgradeRequired}, {"?deny=1", http.StatusTeapot}} {
		resp, err := srv.Client().Get(srv.URL + websocket.Path + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s: status %d, want %d", tc.query, resp.StatusCode, tc.want)
		}
		if tc.want == http.StatusUpgradeRequired && resp.Header.Get("Upgrade") != "websocket" {
			t.Errorf("426 answer has Upgrade: %q, want websocket", resp.Header.Get("Upgrade"))
		}
	}
}

// TestProxy dials through an explicit forward proxy given in the
// HTTPClient, which must carry the upgrade: the client must use that
// client, not one of its own.
func TestProxy(t *testing.T) {
	target := echoServer(t, nil)
	var mu sync.Mutex
	var proxied []string
	proxyTransport := &http.Transport{}
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		// A forward proxy's request carries the absolute target URL, which
		// the outgoing request already holds: only record it.
		Rewrite: func(pr *httputil.ProxyRequest) {
			mu.Lock()
			defer mu.Unlock()
			proxied = append(proxied, pr.In.URL.String())
		},
		Transport: proxyTransport,
	})
	t.Cleanup(func() { proxy.Close(); proxyTransport.CloseIdleConnections() })
	proxyURL, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}

	c := dial(t, target.URL+"/rt", transport.Config{HTTPClient: client})
	roundTrip(t, c, `{"t":"ping"}`)
	mu.Lock()
	defer mu.Unlock()
	want := target.URL + "/rt/ws?codec=json&v=1"
	if len(proxied) != 1 || proxied[0] != want {
		t.Errorf("the proxy saw %q, want [%q]", proxied, want)
	}
}

// coder/websocket follows redirects without limit when the client has no
// CheckRedirect; the transport's redirect policy refuses a loop, so it
// fails at once instead of spinning until the context ends.
func TestRedirectLoopFailsFast(t *testing.T) {
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.String(), http.StatusFound)
	}))
	defer loop.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := websocket.Transport{}.Dial(ctx, loop.URL, transport.Config{})
	if !errors.Is(err, transport.ErrRedirect) {
		t.Fatalf("want a *transport.RedirectError, got %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the dial waited for the context instead of giving up")
	}
}
