package realtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/transport"
)

// Finding 1: against a server that accepts every link and fails it right
// after hello, a client with the most eager policy still stays under the
// connects ceiling, on every transport.
func TestReconnectStormStaysUnderTheConnectsCeiling(t *testing.T) {
	for _, tr := range realtime.DefaultTransports() {
		t.Run(tr.Name(), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, nil)
			srv.DropEvery(2) // connect and hello, then the link is cut
			c, err := realtime.New(srv.URL(), &realtime.Options{
				Transports:      []transport.Transport{tr},
				UpgradeInterval: -1,
				Reconnect:       reconnect.Policy{BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond},
			})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			start := time.Now()
			_ = c.Connect(ctx)
			<-ctx.Done()
			took := time.Since(start)
			require.NoError(t, c.Close())

			got := srv.Transports()[tr.Name()]
			ceiling := realtime.ConnectBurst + int(took/realtime.ConnectEvery) + 1
			t.Logf("%s: %d connects in %v (ceiling %d; %d per minute at most)", tr.Name(), got, took.Round(time.Millisecond), ceiling, realtime.MaxConnectsPerMinute)
			require.LessOrEqual(t, got, ceiling)
			require.GreaterOrEqual(t, got, 2, "the client did retry")
			st := c.Stats()
			require.Greater(t, st.DiedYoung, uint64(0))
		})
	}
}

// A link that dies young is a failed attempt: the attempt count and the
// backoff grow across such links, and the budget runs out into Suspended,
// on every transport.
func TestLinksThatDieYoungRunTheBudgetIntoSuspended(t *testing.T) {
	for _, tr := range realtime.DefaultTransports() {
		t.Run(tr.Name(), func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t, 15*time.Second)
			srv := newServer(t, nil)
			srv.DropEvery(2)
			rec := newRecorder()
			c, err := realtime.New(srv.URL(), &realtime.Options{
				Transports:      []transport.Transport{tr},
				UpgradeInterval: -1,
				Reconnect:       reconnect.Policy{BaseDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond, Budget: time.Second},
				OnStateChange:   rec.change,
			})
			require.NoError(t, err)
			defer c.Close()
			go func() { _ = c.Connect(ctx) }()
			ch := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.To == realtime.StateSuspended })
			require.Greater(t, ch.Attempt, 3, "attempts kept counting across links that died young")
			// Each young death was announced with the wait before the next try.
			young := 0
			for _, ch := range rec.snapshotChanges() {
				if ch.To == realtime.StateReconnecting && ch.Reason == "connection lost soon after connecting" {
					require.Greater(t, ch.Attempt, 0)
					young++
				}
			}
			require.Greater(t, young, 1)
			require.Less(t, srv.Transports()[tr.Name()], 60, "connects before suspended")
		})
	}
}

var _ = mock.Options{}
