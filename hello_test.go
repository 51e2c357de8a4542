package realtime_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cws "github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

// helloServer answers every connect over WebSocket with hello, then reads
// until the client goes. It counts the handshakes.
func helloServer(t *testing.T, hello codec.Frame) (string, *atomic.Int64) {
	var n atomic.Int64
	msg, err := codec.JSON{}.Encode(nil, hello)
	require.NoError(t, err)
	var wg sync.WaitGroup
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		ws, err := cws.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		if _, _, err := ws.Read(r.Context()); err != nil {
			return
		}
		n.Add(1)
		if ws.Write(r.Context(), cws.MessageText, msg) != nil {
			return
		}
		for {
			if _, _, err := ws.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() { ts.CloseClientConnections(); ts.Close(); wg.Wait() })
	return ts.URL, &n
}

// Finding 8: a hello that breaks the protocol is a *ProtocolError, and the
// client retries it with backoff rather than running on it.
func TestBadHelloIsAProtocolErrorRetriedWithBackoff(t *testing.T) {
	good := codec.Frame{Type: codec.TypeHello, Version: codec.Version, Session: "s", Token: "t", Heartbeat: 15000}
	for name, mod := range map[string]func(*codec.Frame){
		"no version":      func(f *codec.Frame) { f.Version = 0 },
		"unknown version": func(f *codec.Frame) { f.Version = 9 },
		"hb 1 ms":         func(f *codec.Frame) { f.Heartbeat = 1 },
		"no token":        func(f *codec.Frame) { f.Token = "" },
	} {
		t.Run(name, func(t *testing.T) {
			h := good
			mod(&h)
			url, n := helloServer(t, h)
			c, err := realtime.New(url, &realtime.Options{
				Transports: []transport.Transport{websocket.Transport{}},
			})
			require.NoError(t, err)
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			err = c.Connect(ctx)
			require.Error(t, err, "connected on a bad hello")
			var pe *realtime.ProtocolError
			require.True(t, errors.As(c.Err(), &pe), "Err() = %v, want a *ProtocolError", c.Err())
			require.Equal(t, uint64(0), c.Stats().Connects)
			// Default backoff (250 ms base, x2, full jitter): at most a
			// handful of handshakes in 1.5 s, not hundreds.
			require.LessOrEqual(t, n.Load(), int64(12), "handshakes in 1.5 s")
			require.GreaterOrEqual(t, n.Load(), int64(1))
		})
	}
}
