package realtime_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
)

// Drain with 1,000 publishes in flight returns once every one is
// acknowledged, and the server has them all; then the client is closed.
func TestDrainAcknowledgesEveryPublish(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	srv := newServer(t, nil)
	c := connect(t, ctx, srv, nil, nil)
	const n = 1000
	receipts := make([]*realtime.Receipt, n)
	for i := range receipts {
		r, err := c.PublishAsync("up", []byte{byte(i), byte(i >> 8)})
		require.NoError(t, err)
		receipts[i] = r
	}
	require.NoError(t, c.Drain(ctx))
	for i, r := range receipts {
		require.Equal(t, realtime.ReceiptAcknowledged, r.Status(), "publish %d", i)
	}
	require.Len(t, srv.Received(), n)
	require.Equal(t, realtime.StateClosed, c.State())
	_, err := c.PublishAsync("up", nil)
	require.ErrorIs(t, err, realtime.ErrClosed)
	require.ErrorIs(t, c.Drain(ctx), realtime.ErrClosed)
}

// While Drain waits, a publish is refused with ErrDraining; every publish
// accepted before that is acknowledged by the time Drain returns.
func TestDrainRefusesNewPublishes(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	srv := newServer(t, nil)
	srv.DelayAcks(100 * time.Millisecond) // Drain waits at least that
	c := connect(t, ctx, srv, nil, nil)
	var accepted []*realtime.Receipt
	r, err := c.PublishAsync("up", []byte("first"))
	require.NoError(t, err)
	accepted = append(accepted, r)
	drained := make(chan error, 1)
	go func() { drained <- c.Drain(ctx) }()
	for {
		r, err := c.PublishAsync("up", []byte("more"))
		if err != nil {
			require.ErrorIs(t, err, realtime.ErrDraining)
			break
		}
		accepted = append(accepted, r)
		require.NoError(t, ctx.Err(), "never refused")
		time.Sleep(time.Millisecond) // a bounded poll: Drain has started or will
	}
	require.ErrorIs(t, c.Publish(ctx, "up", nil), realtime.ErrDraining)
	select {
	case err := <-drained:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("Drain did not return")
	}
	for i, r := range accepted {
		require.Equal(t, realtime.ReceiptAcknowledged, r.Status(), "publish %d of %d", i, len(accepted))
	}
	require.Len(t, srv.Received(), len(accepted))
}

// Drain waits for the handler at work and what is queued for it.
func TestDrainWaitsForHandlers(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	srv := newServer(t, nil)
	c := connect(t, ctx, srv, nil, nil)
	started, release := make(chan struct{}, 1), make(chan struct{})
	var handled atomic.Int32
	require.NoError(t, subscribed(c.Subscribe(ctx, "news", func(realtime.Message) {
		if handled.Load() == 0 {
			started <- struct{}{}
			<-release
		}
		handled.Add(1)
	})))
	publishN(t, ctx, srv, "news", "m", 3)
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("handler not called")
	}
	// The other two wait in the queue behind the handler at work.
	require.Eventually(t, func() bool { return c.Stats().InboxCount == 2 }, scaled(10*time.Second), time.Millisecond)
	drained := make(chan error, 1)
	go func() { drained <- c.Drain(ctx) }()
	close(release) // Close alone would wait for this call, then drop the two
	select {
	case err := <-drained:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("Drain did not return")
	}
	require.Equal(t, int32(3), handled.Load(), "every queued message handled before Drain returned")
}

// With a deadline too short (the server holds its acks), Drain closes the
// client anyway and returns ctx's error with the number of publishes that
// remained; they failed with ErrClosed.
func TestDrainDeadlineCountsWhatRemained(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	srv := newServer(t, nil)
	c := connect(t, ctx, srv, nil, nil)
	srv.DelayAcks(time.Hour)
	const n = 100
	receipts := make([]*realtime.Receipt, n)
	for i := range receipts {
		r, err := c.PublishAsync("up", []byte("x"))
		require.NoError(t, err)
		receipts[i] = r
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err := c.Drain(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var de *realtime.DrainError
	require.ErrorAs(t, err, &de)
	require.Equal(t, n, de.Remaining)
	require.Contains(t, err.Error(), "100 publishes")
	require.Equal(t, realtime.StateClosed, c.State())
	for _, r := range receipts {
		require.Equal(t, realtime.ReceiptFailed, r.Status())
		require.ErrorIs(t, r.Err(), realtime.ErrClosed)
	}
}

// With the server gone, Drain gives up at ctx's end as well.
func TestDrainServerDown(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	srv := newServer(t, nil)
	c := connect(t, ctx, srv, nil, nil)
	srv.Close()
	_, err := c.PublishAsync("up", []byte("x"))
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err = c.Drain(short)
	var de *realtime.DrainError
	require.True(t, errors.As(err, &de) && errors.Is(err, context.DeadlineExceeded), "got %v", err)
	require.Equal(t, 1, de.Remaining)
}
