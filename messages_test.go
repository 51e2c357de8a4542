package realtime_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
)

// iterate ranges over sub.Messages(ctx) on a goroutine of its own, handing
// each message or error to out, until the loop ends (done closed) or stop
// says to break.
func iterate(sub *realtime.Subscription, ctx context.Context, stop func(realtime.Message) bool) (out chan realtime.Message, errs chan error, done chan struct{}) {
	out, errs, done = make(chan realtime.Message, 1024), make(chan error, 16), make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range sub.Messages(ctx) {
			if err != nil {
				errs <- err
				continue // the iterator ends by itself after an error
			}
			out <- m
			if stop != nil && stop(m) {
				break
			}
		}
	}()
	return out, errs, done
}

func waitDone(t *testing.T, ctx context.Context, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("%s: the loop did not end", what)
	}
}

func drainMsgs(ch chan realtime.Message) []realtime.Message {
	var out []realtime.Message
	for {
		select {
		case m := <-ch:
			out = append(out, m)
		default:
			return out
		}
	}
}

// The iterator yields every message once, in order, beside a handler on
// the same channel; breaking out of the loop ends the subscription, and
// with the last one the server's.
func TestMessagesIteratorInOrderAndBreakEnds(t *testing.T) {
	ctx := testCtx(t, 30e9)
	srv, b := newWatchedServer(t)
	c := connect(t, ctx, srv, nil, nil)
	sub, err := c.Subscribe(ctx, "news", nil)
	require.NoError(t, err)
	rec := newRecorder()
	h, err := c.Subscribe(ctx, "news", rec.handle)
	require.NoError(t, err)

	const n = 200
	out, errs, done := iterate(sub, ctx, func(m realtime.Message) bool { return string(m.Data) == "end" })
	publishN(t, ctx, srv, "news", "m", n)
	require.NoError(t, srv.Publish(ctx, "news", []byte("end")))
	waitDone(t, ctx, done, "break")
	requireData(t, drainMsgs(out), seq("m", n, "end")...)
	require.Empty(t, errs)
	requireData(t, rec.waitMsgs(t, ctx, n+1), seq("m", n, "end")...)

	// The handler's subscription keeps the server's; ending it ends that.
	require.True(t, b.subscribed("news"))
	require.NoError(t, h.Unsubscribe(ctx))
	b.waitSubscribed(t, ctx, "news", false)

	// A second loop on the same subscription gets an error at once.
	_, errs, done = iterate(sub, ctx, nil)
	waitDone(t, ctx, done, "second Messages")
	require.Len(t, errs, 1)
}

// The loop ends on ctx's end, after yielding ctx's error once, and its
// subscription ends with it.
func TestMessagesStopsOnContext(t *testing.T) {
	ctx := testCtx(t, 30e9)
	srv, b := newWatchedServer(t)
	c := connect(t, ctx, srv, nil, nil)
	sub, err := c.Subscribe(ctx, "news", nil)
	require.NoError(t, err)
	loopCtx, cancel := context.WithCancel(ctx)
	out, errs, done := iterate(sub, loopCtx, nil)
	publishN(t, ctx, srv, "news", "m", 3)
	for range 3 {
		select {
		case <-out:
		case <-ctx.Done():
			t.Fatal("no message")
		}
	}
	cancel()
	waitDone(t, ctx, done, "ctx")
	require.Len(t, errs, 1)
	require.ErrorIs(t, <-errs, context.Canceled)
	b.waitSubscribed(t, ctx, "news", false)
	// The client goes on: the dispatcher does not wait for the ended loop.
	rec := newRecorder()
	require.NoError(t, subscribed(c.Subscribe(ctx, "news", rec.handle)))
	publishN(t, ctx, srv, "news", "n", 2)
	requireData(t, rec.waitMsgs(t, ctx, 2), "n0", "n1")
}

// Close ends a running loop, which yields ErrClosed once, and does not
// wait for a loop that never started though a message waits for it.
func TestMessagesStopsOnClose(t *testing.T) {
	ctx := testCtx(t, 30e9)
	srv := newServer(t, nil)
	c := connect(t, ctx, srv, nil, nil)
	running, err := c.Subscribe(ctx, "a", nil)
	require.NoError(t, err)
	// b's handler runs first; when it has run, the dispatcher goes on to
	// wait for the loop of b's other subscription, which never starts.
	reached := make(chan struct{})
	require.NoError(t, subscribed(c.Subscribe(ctx, "b", func(realtime.Message) { close(reached) })))
	_, err = c.Subscribe(ctx, "b", nil)
	require.NoError(t, err)
	out, errs, done := iterate(running, ctx, nil)
	publishN(t, ctx, srv, "a", "m", 1)
	select {
	case <-out:
	case <-ctx.Done():
		t.Fatal("no message")
	}
	publishN(t, ctx, srv, "b", "m", 1)
	select {
	case <-reached:
	case <-ctx.Done():
		t.Fatal("no message on b")
	}
	require.NoError(t, c.Close())
	waitDone(t, ctx, done, "Close")
	require.Len(t, errs, 1)
	require.ErrorIs(t, <-errs, realtime.ErrClosed)
}

// Unsubscribe ends the loop without an error; a loop body that
// unsubscribes ends its own loop too.
func TestMessagesStopsOnUnsubscribe(t *testing.T) {
	ctx := testCtx(t, 30e9)
	srv := newServer(t, nil)
	c := connect(t, ctx, srv, nil, nil)
	sub, err := c.Subscribe(ctx, "a", nil)
	require.NoError(t, err)
	_, errs, done := iterate(sub, ctx, nil)
	require.NoError(t, sub.Unsubscribe(ctx))
	waitDone(t, ctx, done, "Unsubscribe")
	require.Empty(t, errs)

	sub, err = c.Subscribe(ctx, "a", nil)
	require.NoError(t, err)
	unsub := make(chan error, 1)
	_, errs, done = iterate(sub, ctx, func(realtime.Message) bool {
		unsub <- sub.Unsubscribe(ctx)
		return false // the loop goes on, and finds its subscription ended
	})
	publishN(t, ctx, srv, "a", "m", 2)
	waitDone(t, ctx, done, "Unsubscribe from the loop body")
	require.NoError(t, <-unsub)
	require.Empty(t, errs)
}

// Messages on a subscription with a handler yields an error at once.
func TestMessagesOnHandlerSubscription(t *testing.T) {
	ctx := testCtx(t, 30e9)
	srv := newServer(t, nil)
	c := connect(t, ctx, srv, nil, nil)
	sub, err := c.Subscribe(ctx, "a", func(realtime.Message) {})
	require.NoError(t, err)
	_, errs, done := iterate(sub, ctx, nil)
	waitDone(t, ctx, done, "handler subscription")
	require.Len(t, errs, 1)
}

// The dispatcher waits for the loop body, as for a handler: a handler
// subscribed after the loop's subscription sees a message only once the
// body has moved on from it.
func TestMessagesBackpressure(t *testing.T) {
	ctx := testCtx(t, 30e9)
	srv := newServer(t, nil)
	c := connect(t, ctx, srv, nil, nil)
	sub, err := c.Subscribe(ctx, "news", nil)
	require.NoError(t, err)
	var mu sync.Mutex
	var log []string
	note := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	handled := make(chan struct{}, 2)
	require.NoError(t, subscribed(c.Subscribe(ctx, "news", func(m realtime.Message) {
		note("handler " + string(m.Data))
		handled <- struct{}{}
	})))
	started, release := make(chan struct{}, 2), make(chan struct{})
	go func() {
		for m, err := range sub.Messages(ctx) {
			if err != nil {
				return
			}
			note("body " + string(m.Data))
			started <- struct{}{}
			<-release
			note("body done " + string(m.Data))
		}
	}()
	publishN(t, ctx, srv, "news", "m", 2)
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("loop body not reached")
	}
	close(release)
	for range 2 {
		select {
		case <-handled:
		case <-ctx.Done():
			t.Fatal("handler not called")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"body m0", "body done m0", "handler m0", "body m1", "body done m1", "handler m1"}, log)
}
