package realtime_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
)

// A session carrying a steady stream both ways moves from long polling to
// WebSocket once WebSocket works, with nothing lost, duplicated or
// reordered in either direction.
func TestUpgradeFromLongPollingToWebSocketLosesNothing(t *testing.T) {
	const n = 3000
	ctx := testCtx(t, 60*time.Second)
	srv := newServer(t, nil)
	srv.RefuseTransport("websocket", 403)
	srv.RefuseTransport("sse", 403)
	rec := newRecorder()
	c := connect(t, ctx, srv, &realtime.Options{UpgradeInterval: 20 * time.Millisecond}, rec)
	require.Equal(t, "longpoll", c.Transport())
	down, up := newRecorder(), newRecorder()
	require.NoError(t, c.Subscribe(ctx, "down", down.handle))
	require.NoError(t, c.Subscribe(ctx, "up", up.handle))

	// Server to client and client to server at once; WebSocket comes back a
	// third of the way through.
	errs := make(chan error, 2)
	go func() {
		for k := range n {
			if err := srv.Publish(ctx, "down", fmt.Appendf(nil, "%d", k)); err != nil {
				errs <- err
				return
			}
			if k%100 == 0 { // let the stream interleave with the upgrade
				time.Sleep(time.Millisecond)
			}
		}
		errs <- nil
	}()
	go func() {
		var last *realtime.Receipt
		for k := range n {
			if k == n/3 {
				srv.RefuseTransport("websocket", 0)
			}
			r, err := c.PublishAsync("up", fmt.Appendf(nil, "%d", k))
			if err != nil {
				errs <- err
				return
			}
			last = r
			if k%100 == 0 {
				if err := r.Wait(ctx); err != nil {
					errs <- err
					return
				}
			}
		}
		errs <- last.Wait(ctx)
	}()
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)

	upgraded := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool {
		return strings.HasPrefix(ch.Reason, "transport upgraded")
	})
	require.Equal(t, "websocket", upgraded.Transport)
	require.False(t, upgraded.ContinuityLost)
	require.Equal(t, "websocket", c.Transport())

	for name, r := range map[string]*recorder{"down": down, "up": up} {
		msgs := r.waitMsgs(t, ctx, n)
		require.Len(t, msgs, n, name)
		for k, m := range msgs {
			require.Equal(t, fmt.Sprint(k), string(m.Data), "%s: message %d", name, k)
		}
	}
	got := srv.Received()
	require.Len(t, got, n, "the server saw each publish once")
	for k, m := range got {
		require.Equal(t, fmt.Sprint(k), string(m.Data))
	}
	t.Logf("upgrade counted: %d down, %d up, 0 lost, 0 duplicated, 0 reordered", n, n)
}
