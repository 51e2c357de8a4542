package realtime_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/server"
)

// watchBroker is the in-process Broker with a record of the channels the
// server is subscribed to: with one client, the channels that client is
// subscribed to at the server.
type watchBroker struct {
	*server.LocalBroker
	mu   sync.Mutex
	subs map[string]bool
	kick chan struct{}
}

func newWatchBroker(t *testing.T) *watchBroker {
	b := &watchBroker{LocalBroker: server.NewLocalBroker(), subs: map[string]bool{}, kick: make(chan struct{})}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b
}

func (b *watchBroker) Subscribe(ctx context.Context, ch string, deliver func(server.Message)) error {
	err := b.LocalBroker.Subscribe(ctx, ch, deliver)
	b.set(ch, err == nil)
	return err
}

func (b *watchBroker) Unsubscribe(ctx context.Context, ch string) error {
	err := b.LocalBroker.Unsubscribe(ctx, ch)
	if err == nil {
		b.set(ch, false)
	}
	return err
}

func (b *watchBroker) set(ch string, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs[ch] = on
	close(b.kick)
	b.kick = make(chan struct{})
}

// waitSubscribed waits until the server's subscription to ch is on.
func (b *watchBroker) waitSubscribed(t *testing.T, ctx context.Context, ch string, on bool) {
	t.Helper()
	for {
		b.mu.Lock()
		got, kick := b.subs[ch], b.kick
		b.mu.Unlock()
		if got == on {
			return
		}
		select {
		case <-kick:
		case <-ctx.Done():
			t.Fatalf("server subscription to %q: want %v, still %v", ch, on, got)
		}
	}
}

func (b *watchBroker) subscribed(ch string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subs[ch]
}

func newWatchedServer(t *testing.T) (*mock.Server, *watchBroker) {
	b := newWatchBroker(t)
	return newServer(t, &mock.Options{Server: server.Config{Broker: b}}), b
}

// publishN publishes "<prefix><i>" for i in [0, n) from the server.
func publishN(t *testing.T, ctx context.Context, srv *mock.Server, ch, prefix string, n int) {
	t.Helper()
	for i := range n {
		require.NoError(t, srv.Publish(ctx, ch, fmt.Appendf(nil, "%s%d", prefix, i)))
	}
}

// requireData checks that msgs carry exactly want, in order.
func requireData(t *testing.T, msgs []realtime.Message, want ...string) {
	t.Helper()
	got := make([]string, len(msgs))
	for i, m := range msgs {
		got[i] = string(m.Data)
	}
	require.Equal(t, want, got)
}

func seq(prefix string, n int, then ...string) []string {
	out := make([]string, 0, n+len(then))
	for i := range n {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return append(out, then...)
}

// Two subscriptions on one channel each see every message once, in
// order; the server holds one subscription for both.
func TestTwoSubscriptionsSeeEveryMessageOnceInOrder(t *testing.T) {
	ctx := testCtx(t, 30e9)
	srv, b := newWatchedServer(t)
	c := connect(t, ctx, srv, nil, nil)
	r1, r2 := newRecorder(), newRecorder()
	s1, err := c.Subscribe(ctx, "news", r1.handle)
	require.NoError(t, err)
	s2, err := c.Subscribe(ctx, "news", r2.handle)
	require.NoError(t, err)
	require.Equal(t, "news", s1.Channel())
	require.NotSame(t, s1, s2)
	require.True(t, b.subscribed("news"))

	const n = 200
	publishN(t, ctx, srv, "news", "m", n)
	// The last message shows that nothing came twice before it.
	require.NoError(t, srv.Publish(ctx, "news", []byte("end")))
	want := seq("m", n, "end")
	requireData(t, r1.waitMsgs(t, ctx, n+1), want...)
	requireData(t, r2.waitMsgs(t, ctx, n+1), want...)
	require.Equal(t, uint64(n+1), c.Stats().Delivered, "one delivery per message, however many subscriptions")
}

// Unsubscribing one subscription leaves the other receiving and the
// server subscribed; unsubscribing the last ends the server's
// subscription, and a new Subscribe starts it again.
func TestUnsubscribeOneLeavesTheOther(t *testing.T) {
	ctx := testCtx(t, 30e9)
	srv, b := newWatchedServer(t)
	c := connect(t, ctx, srv, nil, nil)
	r1, r2, other := newRecorder(), newRecorder(), newRecorder()
	s1, err := c.Subscribe(ctx, "news", r1.handle)
	require.NoError(t, err)
	s2, err := c.Subscribe(ctx, "news", r2.handle)
	require.NoError(t, err)
	require.NoError(t, subscribed(c.Subscribe(ctx, "other", other.handle)))

	publishN(t, ctx, srv, "news", "a", 1)
	r1.waitMsgs(t, ctx, 1)
	r2.waitMsgs(t, ctx, 1)

	require.NoError(t, s1.Unsubscribe(ctx))
	require.NoError(t, s1.Unsubscribe(ctx), "a second Unsubscribe")
	require.True(t, b.subscribed("news"), "the other subscription keeps the server's")
	publishN(t, ctx, srv, "news", "b", 2)
	requireData(t, r2.waitMsgs(t, ctx, 3), "a0", "b0", "b1")

	require.NoError(t, s2.Unsubscribe(ctx))
	b.waitSubscribed(t, ctx, "news", false)
	// Nothing more reaches either: a message on another channel, published
	// after, arrives after any that the server would still have sent.
	publishN(t, ctx, srv, "news", "late", 1)
	publishN(t, ctx, srv, "other", "x", 1)
	other.waitMsgs(t, ctx, 1)
	requireData(t, r1.waitMsgs(t, ctx, 1), "a0")
	requireData(t, r2.waitMsgs(t, ctx, 3), "a0", "b0", "b1")

	r3 := newRecorder()
	s3, err := c.Subscribe(ctx, "news", r3.handle)
	require.NoError(t, err)
	b.waitSubscribed(t, ctx, "news", true)
	publishN(t, ctx, srv, "news", "c", 1)
	requireData(t, r3.waitMsgs(t, ctx, 1), "c0")
	require.NoError(t, s3.Unsubscribe(ctx))
	b.waitSubscribed(t, ctx, "news", false)
}

// Client.Unsubscribe ends every subscription of the channel at once.
func TestClientUnsubscribeEndsAll(t *testing.T) {
	ctx := testCtx(t, 30e9)
	srv, b := newWatchedServer(t)
	c := connect(t, ctx, srv, nil, nil)
	r1, r2 := newRecorder(), newRecorder()
	s1, err := c.Subscribe(ctx, "news", r1.handle)
	require.NoError(t, err)
	require.NoError(t, subscribed(c.Subscribe(ctx, "news", r2.handle)))
	require.NoError(t, c.Unsubscribe(ctx, "news"))
	b.waitSubscribed(t, ctx, "news", false)
	require.NoError(t, s1.Unsubscribe(ctx), "already ended")
	require.NoError(t, c.Unsubscribe(ctx, "news"), "no subscription left")
}

// A refused subscription leaves nothing behind, for the first subscriber
// and for one that waited on the same request.
func TestRefusedSubscribeLeavesNoSubscription(t *testing.T) {
	ctx := testCtx(t, 30e9)
	b := newWatchBroker(t)
	srv := newServer(t, &mock.Options{Server: server.Config{Broker: b,
		Authorize: func(_ context.Context, a server.Access) error {
			if a.Action == server.Subscribe && a.Channel == "secret" {
				return errors.New("no")
			}
			return nil
		}}})
	c := connect(t, ctx, srv, nil, nil)
	_, err := c.Subscribe(ctx, "secret", func(realtime.Message) {})
	var refused *realtime.RefusedError
	require.ErrorAs(t, err, &refused)
	require.NoError(t, c.Unsubscribe(ctx, "secret"), "nothing to unsubscribe")
	require.False(t, b.subscribed("secret"))
}

// Subscriptions are renewed after a lost session, every one of them.
func TestSubscriptionsRenewedAfterSessionLoss(t *testing.T) {
	ctx := testCtx(t, 30e9)
	srv, b := newWatchedServer(t)
	rec := newRecorder()
	c := connect(t, ctx, srv, nil, rec)
	r1, r2 := newRecorder(), newRecorder()
	require.NoError(t, subscribed(c.Subscribe(ctx, "news", r1.handle)))
	require.NoError(t, subscribed(c.Subscribe(ctx, "news", r2.handle)))
	srv.ExpireSessions()
	srv.DropConnections()
	rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.ContinuityLost })
	b.waitSubscribed(t, ctx, "news", true)
	publishN(t, ctx, srv, "news", "m", 3)
	requireData(t, r1.waitMsgs(t, ctx, 3), seq("m", 3)...)
	requireData(t, r2.waitMsgs(t, ctx, 3), seq("m", 3)...)
}

// Subscribes racing on one channel share its one request: each returns
// once the server acknowledged it, and each sees every message.
func TestConcurrentSubscribesShareTheRequest(t *testing.T) {
	ctx := testCtx(t, 30e9)
	srv, b := newWatchedServer(t)
	c := connect(t, ctx, srv, nil, nil)
	const k = 8
	recs := make([]*recorder, k)
	var wg sync.WaitGroup
	errs := make(chan error, k)
	for i := range recs {
		recs[i] = newRecorder()
		wg.Go(func() {
			_, err := c.Subscribe(ctx, "news", recs[i].handle)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.True(t, b.subscribed("news"), "every Subscribe returned after the server's acknowledgement")
	publishN(t, ctx, srv, "news", "m", 20)
	for _, r := range recs {
		requireData(t, r.waitMsgs(t, ctx, 20), seq("m", 20)...)
	}
}
