package connstate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/connstate"
	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/reconnect"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

func TestMachineTransitionsAndWaits(t *testing.T) {
	var m connstate.Machine
	require.Equal(t, reconnect.Idle, m.State())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	got := make(chan reconnect.State, 1)
	go func() {
		s, _ := m.WaitFor(ctx, reconnect.Connected)
		got <- s
	}()
	c, ok := m.Set(connstate.Change{To: reconnect.Connecting, Reason: "connect called"})
	require.True(t, ok)
	require.Equal(t, reconnect.Idle, c.From)
	require.False(t, c.At.IsZero())
	m.Set(connstate.Change{To: reconnect.Connected, Reason: "connected", Transport: "websocket"})
	require.Equal(t, reconnect.Connected, <-got)
	require.Equal(t, "websocket", m.Last().Transport)

	m.Set(connstate.Change{To: reconnect.Failed, Reason: "unauthorized"})
	_, ok = m.Set(connstate.Change{To: reconnect.Connecting})
	require.False(t, ok, "a final state is final")
	s, err := m.WaitFor(ctx, reconnect.Connected)
	require.NoError(t, err)
	require.Equal(t, reconnect.Failed, s, "waiting ends at a final state")
}

func TestMachineWaitHonoursContext(t *testing.T) {
	var m connstate.Machine
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	s, err := m.WaitFor(ctx, reconnect.Connected)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, reconnect.Idle, s)
	require.False(t, m.WaitForStateChange(ctx, reconnect.Idle))
}
