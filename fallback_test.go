package realtime_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/fallback"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
)

// A refused WebSocket handshake moves to SSE at once: no timeout is waited.
func TestRefusedWebSocketFallsBackToSSEAtOnce(t *testing.T) {
	for _, status := range []int{403, 426, 400, 404, 405, 501} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			ctx := testCtx(t, 10*time.Second)
			srv := newServer(t, nil)
			srv.RefuseTransport("websocket", status)
			start := time.Now()
			c := connect(t, ctx, srv, &realtime.Options{HandshakeTimeout: 5 * time.Second}, nil)
			took := time.Since(start)
			require.Equal(t, "sse", c.Transport())
			require.Less(t, took, 2*time.Second, "a refusal must not wait for the handshake timeout")
			att := c.Attempts()
			require.Len(t, att, 2)
			require.Equal(t, "websocket", att[0].Transport)
			var he *transport.HandshakeError
			require.ErrorAs(t, att[0].Err, &he)
			require.Equal(t, status, he.StatusCode)
			require.Equal(t, "sse", att[1].Transport)
			require.NoError(t, att[1].Err)
			roundTrip(t, ctx, srv, c)
		})
	}
}

// A proxy that accepts the upgrade and then closes: the transport never
// delivers the server's first frame, so it does not count.
func TestAcceptedThenClosedWebSocketEndsOnSSE(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, nil)
	srv.AcceptThenClose("websocket", true)
	c := connect(t, ctx, srv, &realtime.Options{UpgradeInterval: -1}, nil)
	require.Equal(t, "sse", c.Transport())
	roundTrip(t, ctx, srv, c)
}

// A buffering proxy holds the event stream: SSE's first frame never comes,
// the deadline passes, and the client lands on long polling.
func TestBufferedSSEEndsOnLongPolling(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, nil)
	srv.RefuseTransport("websocket", 403)
	srv.BufferSSE(true)
	start := time.Now()
	c := connect(t, ctx, srv, &realtime.Options{HandshakeTimeout: 300 * time.Millisecond}, nil)
	require.Equal(t, "longpoll", c.Transport())
	require.Less(t, time.Since(start), 3*time.Second)
	roundTrip(t, ctx, srv, c)
}

func TestUserOrderAndSubset(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, nil)
	all := realtime.DefaultTransports()
	c := connect(t, ctx, srv, &realtime.Options{Transports: all[2:]}, nil)
	require.Equal(t, "longpoll", c.Transport())
	roundTrip(t, ctx, srv, c)

	srv.RefuseTransport("longpoll", 403)
	c2, err := realtime.New(srv.URL(), &realtime.Options{Transports: all[2:]})
	require.NoError(t, err)
	defer c2.Close()
	short := testCtx(t, 500*time.Millisecond)
	err = c2.Connect(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var fe *fallback.Error
	require.ErrorAs(t, c2.Err(), &fe, "the last attempt lists each transport's failure")
	require.Equal(t, "longpoll", fe.Attempts[0].Transport)
}

// The transport that worked is tried first on reconnect.
func TestReconnectStartsWithRememberedTransport(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, nil)
	srv.RefuseTransport("websocket", 403)
	rec := newRecorder()
	c := connect(t, ctx, srv, &realtime.Options{UpgradeInterval: -1}, rec)
	require.Equal(t, "sse", c.Transport())
	srv.RefuseTransport("websocket", 0) // WebSocket would work now, but is not tried first
	before := srv.Transports()["websocket"]
	srv.DropConnections()
	rec.waitChange(t, ctx, func(ch realtime.StateChange) bool {
		return ch.From == realtime.StateReconnecting && ch.To == realtime.StateConnected
	})
	require.Equal(t, "sse", c.Transport())
	require.Equal(t, before, srv.Transports()["websocket"])
}

// Every transport answering 500, or redirecting in a loop: typed errors,
// retries with backoff, no hang, and Close still returns.
func TestServerErrorsAndRedirectLoops(t *testing.T) {
	t.Run("500", func(t *testing.T) {
		srv := newServer(t, nil)
		for _, tr := range []string{"websocket", "sse", "longpoll"} {
			srv.RefuseTransport(tr, 500)
		}
		c, err := realtime.New(srv.URL(), nil)
		require.NoError(t, err)
		defer c.Close()
		require.ErrorIs(t, c.Connect(testCtx(t, 500*time.Millisecond)), context.DeadlineExceeded)
		var fe *fallback.Error
		require.ErrorAs(t, c.Err(), &fe)
		require.Len(t, fe.Attempts, 3)
	})
	t.Run("redirect loop", func(t *testing.T) {
		loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.String(), http.StatusFound)
		}))
		defer loop.Close()
		c, err := realtime.New(loop.URL, nil)
		require.NoError(t, err)
		require.ErrorIs(t, c.Connect(testCtx(t, 500*time.Millisecond)), context.DeadlineExceeded)
		require.ErrorContains(t, c.Err(), "redirect")
		require.NoError(t, c.Close())
	})
}

// The token provider is asked before every connection attempt.
func TestTokenProviderOnEveryConnect(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	var issued atomic.Int32
	srv := newServer(t, &mock.Options{Server: server.Config{Authenticate: func(r *http.Request) (server.Identity, error) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-") {
			return server.Identity{}, errors.New("no token")
		}
		return server.Identity{}, nil
	}}})
	rec := newRecorder()
	c := connect(t, ctx, srv, &realtime.Options{Token: func(context.Context) (string, error) {
		return fmt.Sprintf("tok-%d", issued.Add(1)), nil
	}}, rec)
	require.Equal(t, int32(1), issued.Load())
	srv.DropConnections()
	rec.waitChange(t, ctx, func(ch realtime.StateChange) bool {
		return ch.From == realtime.StateReconnecting && ch.To == realtime.StateConnected
	})
	require.Equal(t, int32(2), issued.Load())
	roundTrip(t, ctx, srv, c)
}

// roundTrip proves messages flow both ways, acknowledged.
func roundTrip(t *testing.T, ctx context.Context, srv *mock.Server, c *realtime.Client) {
	t.Helper()
	rec := newRecorder()
	require.NoError(t, subscribed(c.Subscribe(ctx, "rt", rec.handle)))
	require.NoError(t, c.Publish(ctx, "rt", []byte("up")))
	require.NoError(t, srv.Publish(ctx, "rt", []byte("down")))
	require.Equal(t, []string{"up", "down"}, datas(rec.waitMsgs(t, ctx, 2)))
}

// A server that answers 503 with Retry-After is waited for as it asked,
// not per the client's own backoff.
func TestServerRetryAfterIsHonoured(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	var busy atomic.Bool
	busy.Store(true)
	srv := newServer(t, nil)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if busy.Load() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	defer front.Close()
	rec := newRecorder()
	c, err := realtime.New(front.URL, &realtime.Options{
		OnStateChange: rec.change,
		Reconnect:     reconnect.Policy{BaseDelay: time.Millisecond, MaxDelay: 200 * time.Millisecond},
	})
	require.NoError(t, err)
	defer c.Close()
	require.Error(t, c.Connect(testCtx(t, 10*time.Millisecond)), "not connected while the server is busy")
	ch := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.Delay > 0 })
	require.Equal(t, time.Second, ch.Delay, "the server's delay, not the policy's (at most 200 ms)")
	busy.Store(false)
	require.NoError(t, c.Connect(ctx))
}
