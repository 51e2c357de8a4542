package session

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/leakcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

func pub(data string) *Op {
	return NewOp(codec.Frame{Type: codec.TypePublish, Channel: "c", Data: []byte(data)})
}

func seqs(fs []codec.Frame) []uint64 {
	var out []uint64
	for _, f := range fs {
		out = append(out, f.Seq)
	}
	return out
}

func big() Limits { return Limits{Count: 1 << 20, Bytes: 1 << 30} }

func TestNumbersOnSendAndAcksCumulatively(t *testing.T) {
	s := New(big())
	a, b, c := pub("a"), pub("b"), pub("c")
	for _, op := range []*Op{a, b, c} {
		require.NoError(t, s.Enqueue(op, false))
		require.Equal(t, Queued, op.State())
	}
	require.Equal(t, []uint64{1, 2, 3}, seqs(s.Fill(nil, 1<<20)))
	require.Equal(t, Sent, a.State())
	require.False(t, s.Pending())
	require.NoError(t, s.Ack(2))
	require.Equal(t, Acked, a.State())
	require.Equal(t, Acked, b.State())
	require.Equal(t, Sent, c.State())
	require.NoError(t, a.Wait(context.Background()))
	n, _ := s.Len()
	require.Equal(t, 1, n)
}

func TestNackBeforeAckFailsOnlyThatOne(t *testing.T) {
	s := New(big())
	a, b := pub("a"), pub("b")
	s.Enqueue(a, false)
	s.Enqueue(b, false)
	s.Fill(nil, 1<<20)
	require.NoError(t, s.Nack(1, 4003, "forbidden"))
	require.NoError(t, s.Ack(2))
	var re *RefusedError
	require.ErrorAs(t, a.Err(), &re)
	require.Equal(t, uint16(4003), re.Code)
	require.Equal(t, Refused, a.State())
	require.NoError(t, b.Err())
	require.Equal(t, Acked, b.State())
	require.NoError(t, s.Nack(1, 4003, "again"), "a replayed nack is harmless")
}

func TestLiesAreProtocolErrors(t *testing.T) {
	s := New(big())
	s.Enqueue(pub("a"), false)
	s.Fill(nil, 1<<20)
	var pe *ProtocolError
	require.ErrorAs(t, s.Ack(5), &pe)
	require.ErrorAs(t, s.Nack(9, 4003, "x"), &pe)
	_, err := s.Hello(codec.Frame{Type: codec.TypeHello, Session: "x", Resumed: true, Ack: 7}, false)
	require.NoError(t, err, "first hello is a new session whatever it says")
	s.Connect()
	_, err = s.Hello(codec.Frame{Type: codec.TypeHello, Session: "x", Resumed: true, Ack: 7}, false)
	require.ErrorAs(t, err, &pe)
}

func TestOutboxLimits(t *testing.T) {
	s := New(Limits{Count: 2, Bytes: 10})
	require.NoError(t, s.Enqueue(pub("1234"), false))
	require.ErrorIs(t, s.Enqueue(pub("123456789"), false), ErrOutboxFull, "bytes")
	require.NoError(t, s.Enqueue(pub("1"), false))
	require.ErrorIs(t, s.Enqueue(pub(""), false), ErrOutboxFull, "count")
	s.Fill(nil, 1<<20)
	require.NoError(t, s.Ack(2))
	require.NoError(t, s.Enqueue(pub("123456789"), false), "acks free room")
}

func TestWithdrawOnlyUnsent(t *testing.T) {
	s := New(big())
	a, b := pub("a"), pub("b")
	s.Enqueue(a, false)
	s.Fill(nil, 1<<20)
	s.Enqueue(b, false)
	gone := errors.New("gone")
	require.False(t, s.Withdraw(a, gone), "sent: its number is spent")
	require.True(t, s.Withdraw(b, gone))
	require.ErrorIs(t, b.Err(), gone)
	c := pub("c")
	s.Enqueue(c, false)
	require.Equal(t, []uint64{2}, seqs(s.Fill(nil, 1<<20)), "no gap after a withdrawal")
}

func TestWindowBoundsInFlight(t *testing.T) {
	s := New(big())
	for range Window + 10 {
		s.Enqueue(pub("x"), false)
	}
	require.Len(t, s.Fill(nil, 1<<30), Window)
	require.False(t, s.Pending())
	require.NoError(t, s.Ack(5))
	require.Equal(t, []uint64{1025, 1026, 1027, 1028, 1029}, seqs(s.Fill(nil, 1<<30)))
}

func TestFillRespectsBudgetButAlwaysSendsOne(t *testing.T) {
	s := New(big())
	s.Enqueue(NewOp(codec.Frame{Type: codec.TypePublish, Channel: "c", Data: make([]byte, 500)}), false)
	s.Enqueue(pub("x"), false)
	require.Len(t, s.Fill(nil, 100), 1, "an oversized first frame still goes alone")
	require.Len(t, s.Fill(nil, 100), 1)
}

func TestInboundRules(t *testing.T) {
	s := New(big())
	s.Connect()
	for seq := uint64(1); seq <= 3; seq++ {
		ok, err := s.Inbound(seq)
		require.NoError(t, err)
		require.True(t, ok)
	}
	var pe *ProtocolError
	_, err := s.Inbound(3)
	require.ErrorAs(t, err, &pe, "not increasing on one connection")
	_, err = s.Inbound(5)
	require.ErrorAs(t, err, &pe, "gap")

	s.Processed(s.Epoch, 2)
	require.Equal(t, uint64(2), s.Connect().Ack, "resume from what was processed")
	ok, err := s.Inbound(3)
	require.NoError(t, err)
	require.False(t, ok, "a replayed frame already held is a duplicate")
	ok, err = s.Inbound(4)
	require.NoError(t, err)
	require.True(t, ok)
}

func TestInboundWindow(t *testing.T) {
	s := New(big())
	s.Connect()
	for seq := uint64(1); seq <= Window; seq++ {
		_, err := s.Inbound(seq)
		require.NoError(t, err)
	}
	var pe *ProtocolError
	_, err := s.Inbound(Window + 1)
	require.ErrorAs(t, err, &pe)
}

func TestAckBookkeeping(t *testing.T) {
	s := New(big())
	s.Connect()
	s.Inbound(1)
	s.Inbound(2)
	_, due := s.AckDue()
	require.False(t, due)
	require.Equal(t, uint64(1), s.Processed(s.Epoch, 1))
	require.Equal(t, uint64(1), s.Processed(s.Epoch+7, 2), "stale epoch ignored")
	a, due := s.AckDue()
	require.True(t, due)
	require.Equal(t, uint64(1), a)
	s.AckSent(a)
	require.Equal(t, uint64(0), s.Unacked())
}

func TestResumeResendsOnlyBeyondHelloAck(t *testing.T) {
	s := New(big())
	s.Connect()
	s.Hello(codec.Frame{Session: "s1", Token: "t1"}, false)
	for range 5 {
		s.Enqueue(pub("x"), false)
	}
	s.Fill(nil, 1<<20)
	require.Equal(t, codec.Frame{Type: codec.TypeConnect, Version: 1, Session: "s1", Token: "t1"}, s.Connect())
	cont, err := s.Hello(codec.Frame{Session: "s1", Token: "t2", Resumed: true, Ack: 3}, false)
	require.NoError(t, err)
	require.True(t, cont)
	require.Equal(t, []uint64{4, 5}, seqs(s.Fill(nil, 1<<20)))
	require.Equal(t, "t2", s.Token)
}

func TestLostSessionFailsPublishesAndRequeuesSubscriptions(t *testing.T) {
	for _, resend := range []bool{false, true} {
		s := New(big())
		s.Connect()
		s.Hello(codec.Frame{Session: "s1"}, false)
		sub := NewOp(codec.Frame{Type: codec.TypeSubscribe, Channel: "c"})
		p1, p2 := pub("1"), pub("2")
		s.Enqueue(sub, false)
		s.Enqueue(p1, false)
		s.Fill(nil, 1<<20)
		s.Enqueue(p2, false)
		s.Inbound(1)
		epoch := s.Epoch
		s.Connect()
		cont, err := s.Hello(codec.Frame{Session: "s2"}, resend)
		require.NoError(t, err)
		require.False(t, cont)
		require.Greater(t, s.Epoch, epoch)
		if resend {
			require.Equal(t, Queued, p1.State())
		} else {
			require.ErrorIs(t, p1.Err(), ErrSessionLost)
		}
		fs := s.Fill(nil, 1<<20)
		want := []codec.Type{codec.TypeSubscribe, codec.TypePublish}
		if resend {
			want = []codec.Type{codec.TypeSubscribe, codec.TypePublish, codec.TypePublish}
		}
		var got []codec.Type
		for _, f := range fs {
			got = append(got, f.Type)
		}
		require.Equal(t, want, got)
		require.Equal(t, uint64(1), fs[0].Seq, "numbering restarts")
		ok, err := s.Inbound(1)
		require.NoError(t, err)
		require.True(t, ok, "server numbering restarts too")
	}
}

func TestFailAll(t *testing.T) {
	s := New(big())
	a, b := pub("a"), pub("b")
	s.Enqueue(a, false)
	s.Fill(nil, 1<<20)
	s.Enqueue(b, false)
	boom := errors.New("boom")
	s.FailAll(boom)
	require.ErrorIs(t, a.Err(), boom)
	require.ErrorIs(t, b.Err(), boom)
	n, by := s.Len()
	require.Zero(t, n)
	require.Zero(t, by)
}

func TestDropOldestMakesRoomFromUnsentOnly(t *testing.T) {
	s := New(Limits{Count: 3, Bytes: 1 << 20})
	a, b, c, d := pub("a"), pub("b"), pub("c"), pub("d")
	require.NoError(t, s.Enqueue(a, true))
	s.Fill(nil, 1<<20) // a is sent: it keeps its room
	require.NoError(t, s.Enqueue(b, true))
	require.NoError(t, s.Enqueue(c, true))
	require.NoError(t, s.Enqueue(d, true))
	require.ErrorIs(t, b.Err(), ErrOutboxFull, "the oldest unsent was dropped, with an error to its waiter")
	require.Equal(t, Sent, a.State())
	n, _ := s.Len()
	require.Equal(t, 3, n)
	s.Fill(nil, 1<<20)
	require.ErrorIs(t, s.Enqueue(pub("e"), true), ErrOutboxFull, "nothing unsent left to drop")
}
