package session

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime/codec"
)

// The inbox budget: frames held until an ack is sent; one frame always
// passes when nothing is held; the budget goes out in connect; a resumed
// connection releases what connect acknowledged, a new session everything.
func TestInboxBudget(t *testing.T) {
	l := big()
	l.InboxBytes = 100
	s := New(l)
	require.Equal(t, uint64(100), s.ConnectFrame().InboxBytes)
	require.NoError(t, s.Hold(1, 60))
	require.NoError(t, s.Hold(2, 40))
	var pe *ProtocolError
	require.ErrorAs(t, s.Hold(3, 1), &pe, "past the budget with bytes held")
	require.Equal(t, 100, s.HeldBytes())

	s.Processed(s.Epoch, 1)
	s.AckSent(1)
	require.Equal(t, 40, s.HeldBytes(), "an ack sent releases what it covers")
	require.NoError(t, s.Hold(3, 60))
	s.Processed(s.Epoch, 3)
	s.AckSent(3)
	require.Zero(t, s.HeldBytes())
	require.NoError(t, s.Hold(4, 500), "a frame larger than the budget passes alone")
	require.ErrorAs(t, s.Hold(5, 1), &pe)

	// A resumed connection: connect acknowledged what was processed.
	s.Processed(s.Epoch, 4)
	_, err := s.Hello(codec.Frame{Type: codec.TypeHello, Session: "s", Token: "t", Resumed: true}, false)
	require.NoError(t, err)
	require.Zero(t, s.HeldBytes())

	require.NoError(t, s.Hold(5, 70))
	_, err = s.Hello(codec.Frame{Type: codec.TypeHello, Session: "s2", Token: "t"}, false)
	require.NoError(t, err)
	require.Zero(t, s.HeldBytes(), "a new session holds nothing")

	none := New(big())
	require.Zero(t, none.ConnectFrame().InboxBytes)
	require.NoError(t, none.Hold(1, 1<<30), "no budget: nothing is counted")
	require.Zero(t, none.HeldBytes())
}
