package realtime_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/transport"
)

// down is a transport whose server is unreachable: every dial fails at once.
type down struct{ dials atomic.Int32 }

func (*down) Name() string { return "websocket" }
func (d *down) Dial(context.Context, string, transport.Config) (transport.Conn, error) {
	d.dials.Add(1)
	return nil, errors.New("connection refused")
}

// Ten minutes of outage run in fake time: attempts follow the backoff
// policy, the state turns suspended once the budget is spent, and Close
// still ends everything at once.
func TestOutageBackoffAndSuspendInFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &down{}
		var states []realtime.StateChange
		c, err := realtime.New("http://server.invalid", &realtime.Options{
			Transports:    []transport.Transport{d},
			Reconnect:     reconnect.Policy{BaseDelay: time.Second, MaxDelay: 30 * time.Second, Budget: time.Minute, Rand: func() float64 { return 1 }},
			OnStateChange: func(ch realtime.StateChange) { states = append(states, ch) },
		})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		require.ErrorIs(t, c.Connect(ctx), context.DeadlineExceeded)
		require.Equal(t, 10*time.Minute, time.Since(start))
		synctest.Wait()

		// Delays 1, 2, 4, 8, 16, then 30 s: 31 s for the first five, then one
		// attempt every 30 s: 6 + (600-31)/30 = 24 attempts, 25 with the last.
		require.InDelta(t, 24, int(d.dials.Load()), 1)
		require.Equal(t, realtime.StateSuspended, c.State())
		var suspendedAt time.Duration
		for _, ch := range states {
			if ch.To == realtime.StateSuspended {
				suspendedAt = ch.At.Sub(start)
				break
			}
		}
		require.Greater(t, suspendedAt, time.Minute, "suspended only once the budget is spent")
		require.Less(t, suspendedAt, 2*time.Minute)
		require.NoError(t, c.Close())
		require.Equal(t, realtime.StateClosed, c.State())
	})
}
