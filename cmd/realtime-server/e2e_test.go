package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/server"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// signed returns an HS256 token for subject, limited to channels.
func signed(t *testing.T, subject string, channels []string) string {
	t.Helper()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   subject,
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
		},
		Channels: &channels,
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// scaled stretches d by REALTIME_TEST_TIMEOUT_SCALE for slow machines.
func scaled(d time.Duration) time.Duration {
	if f, err := strconv.ParseFloat(os.Getenv("REALTIME_TEST_TIMEOUT_SCALE"), 64); err == nil && f > 1 {
		return time.Duration(float64(d) * f)
	}
	return d
}

// Over TLS, the Go client presents a signed token, is refused (typed
// error, 4003) on a channel its grant does not cover, publishes where it
// may, and the backend's OnPublish sees each publish exactly once though
// the connections are dropped again and again.
func TestEndToEndTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), scaled(60*time.Second))
	defer cancel()
	var mu sync.Mutex
	seen := map[string]int{} // payload -> OnPublish calls
	cfg := server.Config{
		Heartbeat:    2 * time.Second,
		Authenticate: jwtAuth(testKey, "", ""),
		Authorize:    authorize,
		OnPublish: func(_ context.Context, p server.Publication) error {
			mu.Lock()
			seen[string(p.Data)]++
			mu.Unlock()
			return nil
		},
	}
	srv := server.New(cfg)
	ts := httptest.NewUnstartedServer(srv)
	// Every network connection, hijacked ones included, to drop them.
	var conns struct {
		sync.Mutex
		open  []net.Conn
		total int
	}
	ts.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Lock()
			conns.open = append(conns.open, c)
			conns.total++
			conns.Unlock()
		}
	}
	drop := func() {
		conns.Lock()
		for _, c := range conns.open {
			_ = c.Close()
		}
		conns.open = nil
		conns.Unlock()
	}
	ts.StartTLS()
	defer ts.Close()
	defer func() { _ = srv.Close(ctx) }()

	tok := signed(t, "ann", []string{"room:*"})
	client, err := realtime.New(ts.URL, &realtime.Options{
		HTTPClient: ts.Client(),
		Token:      func(context.Context) (string, error) { return tok, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Connect(ctx); err != nil {
		t.Fatal(err)
	}

	_, err = client.Subscribe(ctx, "admin", func(realtime.Message) {})
	var refused *realtime.RefusedError
	if !errors.As(err, &refused) || refused.Code != 4003 {
		t.Fatalf("subscribe outside the grant: %v, want *RefusedError 4003", err)
	}
	got := make(chan realtime.Message, 1024)
	if _, err := client.Subscribe(ctx, "room:1", func(m realtime.Message) { got <- m }); err != nil {
		t.Fatal(err)
	}

	const n = 200
	receipts := make([]*realtime.Receipt, 0, n)
	for i := range n {
		r, err := client.PublishAsync("room:1", fmt.Appendf(nil, "m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		receipts = append(receipts, r)
		if i%40 == 20 {
			drop() // a forced drop mid-stream
			if _, err := client.WaitForState(ctx, realtime.StateReconnecting); err != nil {
				t.Fatal(err)
			}
			if _, err := client.WaitForState(ctx, realtime.StateConnected); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, r := range receipts {
		if err := r.Wait(ctx); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	conns.Lock()
	if conns.total < 5 {
		t.Errorf("%d connections, want one more after each of the 5 drops", conns.total)
	}
	conns.Unlock()
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if c := seen[fmt.Sprintf("m%d", i)]; c != 1 {
			t.Errorf("OnPublish saw m%d %d times, want exactly once", i, c)
		}
	}
	if len(seen) != n {
		t.Errorf("OnPublish saw %d distinct publishes, want %d", len(seen), n)
	}
	if st := srv.Stats(); st.Published != n {
		t.Errorf("Stats().Published = %d, want %d", st.Published, n)
	}
}

func TestJWTRefusals(t *testing.T) {
	auth := jwtAuth(testKey, "", "")
	good := signed(t, "ann", nil)
	other, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject: "ann", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString([]byte("another key, another key, another"))
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject: "ann", ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Minute)),
	}).SignedString(testKey)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{
		Subject: "ann", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for name, tc := range map[string]struct {
		token string
		ok    bool
	}{"good": {good, true}, "wrong key": {other, false}, "expired": {expired, false}, "alg none": {none, false}, "none": {"", false}} {
		r := httptest.NewRequest(http.MethodGet, "/ws", nil)
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		id, err := auth(r)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", name, err, tc.ok)
		}
		if tc.ok && id.ID != "ann" {
			t.Errorf("%s: identity %+v", name, id)
		}
		if err != nil && tc.token != "" && len(tc.token) > 8 && containsStr(err.Error(), tc.token) {
			t.Errorf("%s: the error carries the token", name)
		}
	}
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
