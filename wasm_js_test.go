//go:build js

package realtime_test

// The client in a JavaScript runtime (.ci/wasm.sh runs these under Node
// with -run '^TestWasm'; the rest of this package's tests need a WebSocket
// server, which js/wasm cannot reach in-process). Under Node, Go's net/http
// dials the in-process network that httptest listens on, so the HTTP
// transports reach the mock server; the WebSocket is the runtime's own.

import (
	"errors"
	"syscall/js"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/fallback"
	"github.com/realtimekit/realtime/transport/websocket"
)

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

// throwingWebSocket is a WebSocket constructor that refuses every URL, as
// a browser's does under a content security policy that forbids it.
func throwingWebSocket() js.Value {
	return js.Global().Get("Function").New("url", `throw new Error("refused: " + url);`)
}

// With no global WebSocket (Node.js before 22) and default options, the
// client connects over SSE and works; the WebSocket attempt says why.
func TestWasmNoWebSocketFallsBackToSSE(t *testing.T) {
	setWebSocket(t, js.Undefined())
	ctx := testCtx(t, 20*time.Second)
	srv := newServer(t, nil)
	c, err := realtime.New(srv.URL(), nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Connect(ctx))
	require.Equal(t, "sse", c.Transport())
	att := c.Attempts()
	require.Len(t, att, 2)
	require.Equal(t, "websocket", att[0].Transport)
	require.ErrorIs(t, att[0].Err, websocket.ErrUnsupported)
	require.Equal(t, "sse", att[1].Transport)
	require.NoError(t, att[1].Err)
	roundTrip(t, ctx, srv, c)
}

// Nothing to reach, with or without a WebSocket: Connect returns an error
// when its ctx ends, naming what each transport met, and nothing panics.
func TestWasmUnreachableConnectFails(t *testing.T) {
	for name, ws := range map[string]js.Value{"no WebSocket": js.Undefined(), "throwing WebSocket": throwingWebSocket()} {
		t.Run(name, func(t *testing.T) {
			setWebSocket(t, ws)
			c, err := realtime.New("http://127.0.0.1:1/rt", nil)
			require.NoError(t, err)
			defer c.Close()
			ctx := testCtx(t, 2*time.Second)
			err = c.Connect(ctx)
			require.Error(t, err)
			require.ErrorIs(t, err, ctx.Err(), "Connect retries until its ctx ends")
			var fe *fallback.Error
			require.ErrorAs(t, err, &fe, "the last attempt's error")
			names := make([]string, 0, len(fe.Attempts))
			for _, a := range fe.Attempts {
				require.Error(t, a.Err, a.Transport)
				names = append(names, a.Transport)
			}
			require.Equal(t, []string{"websocket", "sse", "longpoll"}, names)
			require.Equal(t, ws.IsUndefined(), errors.Is(fe.Attempts[0].Err, websocket.ErrUnsupported),
				"ErrUnsupported when and only when there is no WebSocket: %v", fe.Attempts[0].Err)
		})
	}
}
