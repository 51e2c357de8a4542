package realtime_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/transport"
)

// Finding 3, in bytes: a handler that does not keep up with a flood of
// 64 KiB messages holds the messages waiting for it to MaxInboxBytes, on
// every transport: the client announces the budget in connect and the
// server stops sending until the client acknowledges. Asserted while the
// flood is published; once the handler runs again every message arrives,
// in order, on the one connection (the server never broke the budget).
func TestInboxBytesBoundedBySlowHandler(t *testing.T) {
	const bound = 1 << 20
	payload := make([]byte, 64<<10)
	const n = 64 // 4 MiB: four times the bound
	for _, tr := range realtime.DefaultTransports() {
		t.Run(tr.Name(), func(t *testing.T) {
			ctx := testCtx(t, 90*time.Second)
			srv := newServer(t, nil)
			c := connect(t, ctx, srv, &realtime.Options{
				Transports: []transport.Transport{tr}, UpgradeInterval: -1, MaxInboxBytes: bound,
			}, nil)
			release := make(chan struct{})
			var once sync.Once
			defer once.Do(func() { close(release) })
			var got atomic.Int64
			var order atomic.Bool
			_, err := c.Subscribe(ctx, "flood", func(m realtime.Message) {
				<-release
				if int(m.Data[0]) != int(got.Load()) {
					order.Store(true)
				}
				got.Add(1)
			})
			require.NoError(t, err)
			peak := 0
			check := func() {
				st := c.Stats()
				peak = max(peak, st.InboxBytes)
				require.LessOrEqual(t, st.InboxBytes, bound, "inbox over the budget")
			}
			for i := range n {
				p := append([]byte(nil), payload...)
				p[0] = byte(i)
				require.NoError(t, srv.Publish(ctx, "flood", p))
				check()
			}
			// The client fills up to its budget (the handler holds one
			// message, the inbox the rest)...
			require.NoError(t, poll(ctx, func() bool {
				check()
				return c.Stats().InboxBytes >= bound-2*len(payload)
			}))
			// ...and no further, while the server holds the rest.
			for range 20 {
				check()
				time.Sleep(5 * time.Millisecond)
			}
			require.Less(t, got.Load(), int64(n))
			once.Do(func() { close(release) })
			require.NoError(t, poll(ctx, func() bool { check(); return got.Load() == n }), "every message arrives")
			require.False(t, order.Load(), "in order")
			st := c.Stats()
			require.Equal(t, uint64(1), st.Connects, "the server kept the budget: no protocol error")
			t.Logf("peak inbox %d bytes (bound %d)", peak, bound)
		})
	}
}

// A server that ignores the budget breaks the protocol: the client ends
// the link with a *ProtocolError (ErrProtocol), queues nothing past the
// budget, and reconnects.
func TestInboxBudgetIgnoredIsProtocolError(t *testing.T) {
	for _, tr := range realtime.DefaultTransports() {
		t.Run(tr.Name(), func(t *testing.T) {
			ctx := testCtx(t, 45*time.Second)
			srv := newServer(t, nil)
			rec := newRecorder()
			const bound = 4000
			c := connect(t, ctx, srv, &realtime.Options{
				Transports: []transport.Transport{tr}, UpgradeInterval: -1, MaxInboxBytes: bound,
			}, rec)
			release := make(chan struct{})
			var once sync.Once
			defer once.Do(func() { close(release) })
			require.NoError(t, subscribed(c.Subscribe(ctx, "a", func(realtime.Message) { <-release })))
			// A flood the server numbers itself, past the budget at once.
			var flood []codec.Frame
			for seq := uint64(1); seq <= 50; seq++ {
				flood = append(flood, codec.Frame{Type: codec.TypeMessage, Seq: seq, Channel: "a", Data: make([]byte, 1000)})
			}
			srv.InjectFrames(flood...)
			// The handler holds the dispatcher, so no state change is
			// announced yet: the client's Stats and Err say what happened.
			require.NoError(t, poll(ctx, func() bool { return c.Stats().Disconnects > 0 }), "the link ends")
			err := c.Err()
			require.ErrorIs(t, err, realtime.ErrProtocol)
			var pe *realtime.ProtocolError
			require.True(t, errors.As(err, &pe), "want a *ProtocolError, got %T: %v", err, err)
			require.Contains(t, err.Error(), "inbox budget")
			st := c.Stats()
			require.LessOrEqual(t, st.InboxBytes, bound, "nothing queued past the budget")
			require.LessOrEqual(t, st.InboxCount, bound/1000)
			require.NoError(t, poll(ctx, func() bool { return c.Stats().Connects > 1 }), "the client reconnects")
			once.Do(func() { close(release) })
			rec.waitChange(t, ctx, func(ch realtime.StateChange) bool {
				return ch.To == realtime.StateReconnecting && errors.Is(ch.Err, realtime.ErrProtocol)
			})
		})
	}
}
