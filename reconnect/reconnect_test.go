package reconnect_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/reconnect"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

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

func TestStateString(t *testing.T) {
	require.Equal(t, "reconnecting", reconnect.Reconnecting.String())
	require.Equal(t, "State(42)", reconnect.State(42).String())
}
