package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// settle returns once what was queued when it was called has been
// consumed, or dropped as stale, and not before; and at once after stop.
func TestQueueSettle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	started, release := make(chan struct{}), make(chan struct{})
	consumed := make(chan uint64, 8)
	d := newQueue(func(it Item) {
		if it.Msg.Seq == 1 {
			close(started)
			<-release
		}
		consumed <- it.Msg.Seq
	}, false)
	d.deliver(Message{Seq: 1, Epoch: 1})
	d.deliver(Message{Seq: 2, Epoch: 1}) // dropped as stale below
	d.deliver(Message{Seq: 3, Epoch: 2})
	<-started

	settled := make(chan error, 1)
	go func() { settled <- d.settle(ctx) }()
	d.dropStale(2) // seq 2 goes; seq 1 is being consumed, seq 3 waits
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	require.ErrorIs(t, d.settle(short), context.DeadlineExceeded, "settled while an item is being consumed")
	close(release)
	select {
	case err := <-settled:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("settle did not return")
	}
	require.Equal(t, []uint64{1, 3}, []uint64{<-consumed, <-consumed})
	require.Empty(t, consumed, "the stale one was not consumed")

	// After stop, nothing will be consumed: settle does not wait.
	block := make(chan struct{})
	d2 := newQueue(func(Item) { <-block }, false)
	d2.deliver(Message{Seq: 1, Epoch: 1})
	d2.deliver(Message{Seq: 2, Epoch: 1})
	go func() { settled <- d2.settle(ctx) }()
	close(block)
	d2.stop()
	require.NoError(t, <-settled)
	require.NoError(t, d2.settle(ctx))
}
