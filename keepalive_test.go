package realtime_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
	"github.com/realtimekit/realtime/transport/sse"
)

type keepAliveKey struct{}

// keepAliveDropper fronts a server and, for every third POST made on a
// reused keep-alive connection, lets the server take it and then closes
// the connection without an answer: the worst case of a proxy that closes
// keep-alive connections, since the client cannot know the POST arrived.
func keepAliveDropper(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int32) {
	var reusedPosts, dropped atomic.Int32
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uses := r.Context().Value(keepAliveKey{}).(*atomic.Int32).Add(1)
		if r.Method == http.MethodPost && r.URL.Query().Has("id") && uses >= 2 && reusedPosts.Add(1)%3 == 0 {
			h.ServeHTTP(httptest.NewRecorder(), r)
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				dropped.Add(1)
				_ = conn.Close()
			}
			return
		}
		h.ServeHTTP(w, r)
	}))
	front.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, keepAliveKey{}, new(atomic.Int32))
	}
	front.Start()
	t.Cleanup(front.Close)
	return front, &dropped
}

// TestPostsSurviveClosedKeepAliveConnections: on SSE and long polling,
// POSTs whose connection is closed after the server took them (publishes,
// subscribes, unsubscribes and acks among them) are resent once and taken
// once: no connection is lost and nothing is duplicated either way.
func TestPostsSurviveClosedKeepAliveConnections(t *testing.T) {
	for _, tr := range []transport.Transport{sse.Transport{}, longpoll.Transport{}} {
		t.Run(tr.Name(), func(t *testing.T) {
			srv := newServer(t, nil)
			front, dropped := keepAliveDropper(t, srv.Handler())
			hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
			t.Cleanup(hc.CloseIdleConnections)
			c, err := realtime.New(front.URL, &realtime.Options{
				Transports: []transport.Transport{tr}, HTTPClient: hc, UpgradeInterval: -1,
			})
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			ctx := testCtx(t, 30*time.Second)
			require.NoError(t, c.Connect(ctx))

			var mu sync.Mutex
			got := map[string]int{}
			const n = 30
			for round := range 3 {
				ch := fmt.Sprintf("news%d", round)
				_, err := c.Subscribe(ctx, ch, func(m realtime.Message) {
					mu.Lock()
					got[string(m.Data)]++
					mu.Unlock()
				})
				require.NoError(t, err)
				for i := range n {
					require.NoError(t, c.Publish(ctx, "up", fmt.Appendf(nil, "%d-%d", round, i)))
					require.NoError(t, srv.Publish(ctx, ch, fmt.Appendf(nil, "%d-%d", round, i)))
				}
				count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
				require.Eventually(t, func() bool { return count() == (round+1)*n },
					scaled(20*time.Second), time.Millisecond, "round %d", round)
				require.NoError(t, c.Unsubscribe(ctx, ch))
			}
			require.Greater(t, dropped.Load(), int32(2), "too few POSTs were dropped to test anything")

			received := srv.Received()
			require.Len(t, received, 3*n, "the server took a publish twice or lost one")
			seen := map[string]bool{}
			for _, m := range received {
				require.False(t, seen[string(m.Data)], "publish %s taken twice", m.Data)
				seen[string(m.Data)] = true
			}
			mu.Lock()
			for k, v := range got {
				require.Equal(t, 1, v, "message %s delivered %d times", k, v)
			}
			mu.Unlock()
			st := c.Stats()
			require.Equal(t, uint64(1), st.Connects, "the link was lost: %+v", st)
			require.Zero(t, st.Disconnects)
		})
	}
}
