package realtime_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/transport"
)

// Finding 7: a slow OnStateChange holds the connection loop back but loses
// no change: every one arrives, in order (each From is the previous To),
// however many pile up. Ten minutes of failed attempts run in fake time.
func TestEveryStateChangeReachesASlowCallbackInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &down{}
		var mu sync.Mutex
		var got []realtime.StateChange
		c, err := realtime.New("http://server.invalid", &realtime.Options{
			Transports: []transport.Transport{d},
			Reconnect:  reconnect.Policy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
			OnStateChange: func(ch realtime.StateChange) {
				mu.Lock()
				first := len(got) == 0
				got = append(got, ch)
				mu.Unlock()
				if first {
					time.Sleep(10 * time.Minute) // while 300-odd changes pile up
				}
			},
		})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		require.Error(t, c.Connect(ctx))
		time.Sleep(time.Minute) // the callback drains what waited
		synctest.Wait()
		require.NoError(t, c.Close())

		mu.Lock()
		defer mu.Unlock()
		require.Greater(t, len(got), 300, "changes seen")
		require.Equal(t, realtime.StateClosed, got[len(got)-1].To)
		failed := 0
		for i, ch := range got {
			if i > 0 {
				require.Equal(t, got[i-1].To, ch.From, "change %d: %v", i, describe(ch))
			}
			if ch.Reason == "attempt failed" {
				failed++
			}
		}
		require.Equal(t, int(d.dials.Load()), failed, "one change per failed attempt")
	})
}

func describe(ch realtime.StateChange) string {
	return fmt.Sprintf("%s->%s (%s)", ch.From, ch.To, ch.Reason)
}

// Finding 3: a server that floods a client whose handler is slow, and
// answers every reconnect with a new session, cannot grow the messages
// waiting for the handler past the protocol window: those of lost
// sessions are dropped, and counted.
func TestInboxStaysBoundedAcrossLostSessions(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	srv := newServer(t, nil)
	c := connect(t, ctx, srv, &realtime.Options{UpgradeInterval: -1}, nil)
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	require.NoError(t, subscribed(c.Subscribe(ctx, "flood", func(realtime.Message) { <-release })))
	payload := make([]byte, 1024)
	for round := range 3 {
		// A new session's subscription is renewed by the client, ahead of
		// anything else it sends: once this publish is acknowledged the
		// server has it, and the flood reaches the session. (Flooding
		// before that, as this test once did, lost a part of the flood
		// whenever the renewal came late, as it does under emulation.)
		require.NoError(t, c.Publish(ctx, "flood", payload), "round %d", round)
		for range 1100 {
			require.NoError(t, srv.Publish(ctx, "flood", payload))
		}
		// The client holds what the window lets through.
		require.NoError(t, poll(ctx, func() bool { return c.Stats().InboxCount >= 1000 }), "round %d: %+v", round, c.Stats())
		st := c.Stats()
		require.LessOrEqual(t, st.InboxCount, 1024)
		require.LessOrEqual(t, st.InboxBytes, 1024*len(payload))
		before := st.ContinuityLost
		srv.ExpireSessions()
		srv.DropConnections()
		require.NoError(t, poll(ctx, func() bool {
			st := c.Stats()
			return st.ContinuityLost > before && st.State == realtime.StateConnected
		}), "round %d: no new session", round)
	}
	st := c.Stats()
	require.LessOrEqual(t, st.InboxCount, 1024, "across lost sessions")
	require.GreaterOrEqual(t, st.DroppedStale, uint64(2000), "messages of lost sessions dropped")
	require.GreaterOrEqual(t, st.ContinuityLost, uint64(3))
	once.Do(func() { close(release) })
}

// poll waits until cond holds, checking every few milliseconds, or ctx
// ends: for conditions on a client's Stats, which announce nothing.
func poll(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
