package realtime_test

import (
	"context"
	"fmt"
	"net"
	"strings"
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
	require.NoError(t, subscribed(c.Subscribe(ctx, "down", down.handle)))
	require.NoError(t, subscribed(c.Subscribe(ctx, "up", up.handle)))

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
	require.NoError(t, <-errs, "%v", rec.snapshot())
	require.NoError(t, <-errs, "%v", rec.snapshot())

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

// mute is a "websocket" transport whose upgrade succeeds but whose hello
// never comes, as behind a proxy that lets the upgrade through and then
// swallows the traffic.
type mute struct{ dials atomic.Int32 }

func (*mute) Name() string { return "websocket" }
func (m *mute) Dial(context.Context, string, transport.Config) (transport.Conn, error) {
	m.dials.Add(1)
	return &muteConn{closed: make(chan struct{})}, nil
}

type muteConn struct {
	once   sync.Once
	closed chan struct{}
}

func (c *muteConn) Send(context.Context, []byte) error { return nil }
func (c *muteConn) Recv(ctx context.Context) ([]byte, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closed:
		return nil, net.ErrClosed
	}
}
func (c *muteConn) Close() error { c.once.Do(func() { close(c.closed) }); return nil }

// Finding 4: while the probe waits for a hello that never comes, the live
// link (SSE, long polling) carries on: publish to ack stays fast.
func TestProbeNeverStallsTheLiveLink(t *testing.T) {
	for _, live := range []transport.Transport{sse.Transport{}, longpoll.Transport{}} {
		t.Run(live.Name(), func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			srv := newServer(t, nil)
			m := &mute{}
			c := connect(t, ctx, srv, &realtime.Options{
				Transports:       []transport.Transport{m, live},
				UpgradeInterval:  10 * time.Millisecond,
				HandshakeTimeout: time.Second,
			}, nil)
			require.Equal(t, live.Name(), c.Transport())
			start := time.Now()
			var worst time.Duration
			for i := 0; time.Since(start) < 2500*time.Millisecond; i++ {
				t0 := time.Now()
				require.NoError(t, c.Publish(ctx, "ch", []byte("x")))
				worst = max(worst, time.Since(t0))
			}
			t.Logf("%s: worst publish->ack %v while %d probes hung", live.Name(), worst, m.dials.Load())
			require.GreaterOrEqual(t, m.dials.Load(), int32(2), "probes ran")
			require.Less(t, worst, scaled(300*time.Millisecond), "the probe held the live link")
			require.Equal(t, live.Name(), c.Transport())
		})
	}
}

// Finding 9: a client demoted to long polling climbs back to the best
// transport that works, in order: to SSE while WebSocket stays refused,
// then to WebSocket once it works.
func TestProbeClimbsToTheBestTransportThatWorks(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	srv := newServer(t, nil)
	srv.RefuseTransport("websocket", 403)
	srv.RefuseTransport("sse", 403)
	rec := newRecorder()
	c := connect(t, ctx, srv, &realtime.Options{UpgradeInterval: 20 * time.Millisecond}, rec)
	require.Equal(t, "longpoll", c.Transport())

	srv.RefuseTransport("sse", 0)
	up := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.Transport == "sse" })
	require.Equal(t, "transport upgraded from longpoll", up.Reason)
	require.NoError(t, c.Publish(ctx, "ch", []byte("on sse")))

	srv.RefuseTransport("websocket", 0)
	up = rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.Transport == "websocket" })
	require.Equal(t, "transport upgraded from sse", up.Reason)
	require.NoError(t, c.Publish(ctx, "ch", []byte("on websocket")))
	require.Equal(t, uint64(0), c.Stats().ContinuityLost)
}
