package reconnect_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/reconnect"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPolicyDefaults(t *testing.T) {
	p := reconnect.Policy{}.WithDefaults()
	require.Equal(t, reconnect.DefaultBaseDelay, p.BaseDelay)
	require.Equal(t, reconnect.DefaultMultiplier, p.Multiplier)
	require.Equal(t, reconnect.DefaultMaxDelay, p.MaxDelay)
	require.NotNil(t, p.Rand)
}

func TestPolicyCapGrowsToMax(t *testing.T) {
	p := reconnect.Policy{BaseDelay: 100 * time.Millisecond, Multiplier: 2, MaxDelay: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		require.Equal(t, w*time.Millisecond, p.Cap(i+1), "attempt %d", i+1)
	}
	require.Equal(t, time.Second, p.Cap(10_000), "no overflow on huge attempt numbers")
}

func TestPolicyFullJitter(t *testing.T) {
	for _, r := range []float64{0, 0.25, 0.999999} {
		p := reconnect.Policy{BaseDelay: time.Second, Rand: func() float64 { return r }}
		require.Equal(t, time.Duration(r*float64(4*time.Second)), p.Delay(3))
	}
	p := reconnect.Policy{}
	for n := 1; n < 50; n++ {
		d := p.Delay(n)
		require.GreaterOrEqual(t, d, time.Duration(0))
		require.LessOrEqual(t, d, p.Cap(n))
	}
}

// Ten minutes of retries run in fake time: the schedule is the policy's,
// and the library's retry loop honours a server-given delay.
func TestBackOffWithRetryInFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := reconnect.Policy{BaseDelay: time.Second, MaxDelay: 30 * time.Second, Rand: func() float64 { return 0.5 }}
		start := time.Now()
		var delays []time.Duration
		tries := 0
		_, err := backoff.Retry(context.Background(), func() (int, error) {
			tries++
			if time.Since(start) < 10*time.Minute {
				return 0, errors.New("down")
			}
			return 1, nil
		}, backoff.WithBackOff(p.BackOff()), backoff.WithMaxElapsedTime(0),
			backoff.WithNotify(func(_ error, d time.Duration) { delays = append(delays, d) }))
		require.NoError(t, err)
		require.Equal(t, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second}, delays[:6])
		for _, d := range delays[6:] {
			require.Equal(t, 15*time.Second, d)
		}
		require.GreaterOrEqual(t, time.Since(start), 10*time.Minute)
		require.Less(t, time.Since(start), 10*time.Minute+15*time.Second)
		require.Equal(t, len(delays)+1, tries)
	})
}

func TestMachineTransitionsAndWaits(t *testing.T) {
	var m reconnect.Machine
	require.Equal(t, reconnect.Idle, m.State())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	got := make(chan reconnect.State, 1)
	go func() {
		s, _ := m.WaitFor(ctx, reconnect.Connected)
		got <- s
	}()
	c, ok := m.Set(reconnect.Change{To: reconnect.Connecting, Reason: "connect called"})
	require.True(t, ok)
	require.Equal(t, reconnect.Idle, c.From)
	require.False(t, c.At.IsZero())
	m.Set(reconnect.Change{To: reconnect.Connected, Reason: "connected", Transport: "websocket"})
	require.Equal(t, reconnect.Connected, <-got)
	require.Equal(t, "websocket", m.Last().Transport)

	m.Set(reconnect.Change{To: reconnect.Failed, Reason: "unauthorized"})
	_, ok = m.Set(reconnect.Change{To: reconnect.Connecting})
	require.False(t, ok, "a final state is final")
	s, err := m.WaitFor(ctx, reconnect.Connected)
	require.NoError(t, err)
	require.Equal(t, reconnect.Failed, s, "waiting ends at a final state")
}

func TestMachineWaitHonoursContext(t *testing.T) {
	var m reconnect.Machine
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	s, err := m.WaitFor(ctx, reconnect.Connected)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, reconnect.Idle, s)
	require.False(t, m.WaitForStateChange(ctx, reconnect.Idle))
}

func TestStateString(t *testing.T) {
	require.Equal(t, "reconnecting", reconnect.Reconnecting.String())
	require.Equal(t, "State(42)", reconnect.State(42).String())
}
