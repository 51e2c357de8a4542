//go:build js

package websocket_test

import (
	"context"
	"errors"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

// Under js/wasm the tests that need a WebSocket server (httptest with the
// package's handler) do not run: the browser's or Node's WebSocket reaches
// only the real network, and tests may not listen on it. What runs here is
// the behaviour of Dial against what the JavaScript runtime offers.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// secretURL carries a token in its query and userinfo, neither of which
// may appear in an error.
const secretURL = "http://user:hunter2pw@127.0.0.1:1/rt?token=s3cr3t-token"

// setWebSocket makes globalThis.WebSocket v (undefined deletes it) for the
// test, and puts back what was there.
func setWebSocket(t *testing.T, v js.Value) {
	t.Helper()
	g := js.Global()
	old := g.Get("WebSocket")
	if v.IsUndefined() {
		g.Delete("WebSocket")
	} else {
		g.Set("WebSocket", v)
	}
	t.Cleanup(func() {
		if old.IsUndefined() {
			g.Delete("WebSocket")
		} else {
			g.Set("WebSocket", old)
		}
	})
}

func dialErr(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := websocket.Transport{}.Dial(ctx, secretURL, transport.Config{})
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded")
	}
	for _, secret := range []string{"s3cr3t-token", "hunter2pw"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q shows a secret", err)
		}
	}
	return err
}

// Node.js before 22 has no global WebSocket: coder/websocket would call
// undefined, which syscall/js turns into a panic.
func TestDialWithoutWebSocketIsUnsupported(t *testing.T) {
	setWebSocket(t, js.Undefined())
	if !js.Global().Get("WebSocket").IsUndefined() {
		t.Fatal("globalThis.WebSocket is still defined")
	}
	err := dialErr(t)
	if !errors.Is(err, websocket.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Dial = %v, want websocket.ErrUnsupported wrapping errors.ErrUnsupported", err)
	}
	var he *transport.HandshakeError
	if errors.As(err, &he) {
		t.Errorf("Dial = %v: a missing WebSocket is no handshake refusal", err)
	}
}

// Something that is not a constructor where WebSocket should be is no
// WebSocket either.
func TestDialWithNonFunctionWebSocketIsUnsupported(t *testing.T) {
	for _, v := range []any{42, "WebSocket", map[string]any{}, nil} {
		setWebSocket(t, js.ValueOf(v))
		if err := dialErr(t); !errors.Is(err, websocket.ErrUnsupported) {
			t.Errorf("WebSocket = %v: Dial = %v, want websocket.ErrUnsupported", v, err)
		}
	}
}

// A WebSocket constructor that throws (a browser refusing the URL, a
// content security policy) fails the dial with its message, no panic, and
// the message loses the URL's secrets although the constructor quotes it.
func TestDialWithThrowingWebSocketFails(t *testing.T) {
	ctor := js.Global().Get("Function").New("url", `throw new Error("refused to connect to " + url);`)
	setWebSocket(t, ctor)
	err := dialErr(t)
	if errors.Is(err, websocket.ErrUnsupported) {
		t.Fatalf("Dial = %v: a WebSocket that exists is supported", err)
	}
	if !strings.Contains(err.Error(), "refused to connect to ws://127.0.0.1:1/rt/ws") {
		t.Errorf("Dial = %q, want the constructor's message with the URL's path", err)
	}
}

// ErrUnsupported names the cause and carries nothing of the dial.
func TestErrUnsupportedText(t *testing.T) {
	const want = "websocket: no WebSocket in this JavaScript runtime: unsupported operation"
	if got := websocket.ErrUnsupported.Error(); got != want {
		t.Errorf("ErrUnsupported = %q, want %q", got, want)
	}
}
