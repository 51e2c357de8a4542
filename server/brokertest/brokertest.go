// Package brokertest is the conformance suite of server.Broker: every
// implementation runs it from a test of its own,
//
//	func TestConformance(t *testing.T) {
//		brokertest.Run(t, func(t *testing.T) server.Broker { return mybroker.New(...) })
//	}
//
// It checks per-channel order under concurrent publishers, that nothing
// is lost or duplicated, that no delivery comes after Unsubscribe or
// Close returns, that an ended ctx is honoured, and the close semantics.
package brokertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/realtimekit/realtime/server"
)

// Run runs the suite against brokers made by newBroker, a new one for each
// subtest. The suite closes each broker it made.
func Run(t *testing.T, newBroker func(t *testing.T) server.Broker) {
	t.Run("OrderUnderConcurrentPublishers", func(t *testing.T) { testOrder(t, newBroker(t)) })
	t.Run("ChannelsApart", func(t *testing.T) { testChannelsApart(t, newBroker(t)) })
	t.Run("NoDeliveryAfterUnsubscribe", func(t *testing.T) { testUnsubscribe(t, newBroker(t)) })
	t.Run("SubscribeAgain", func(t *testing.T) { testSubscribeAgain(t, newBroker(t)) })
	t.Run("EndedContext", func(t *testing.T) { testEndedContext(t, newBroker(t)) })
	t.Run("Close", func(t *testing.T) { testClose(t, newBroker(t)) })
	t.Run("Metadata", func(t *testing.T) { testMetadata(t, newBroker(t)) })
}

// wait bounds every wait of the suite, scaled by
// REALTIME_TEST_TIMEOUT_SCALE for slow machines.
func wait() time.Duration {
	d := 20 * time.Second
	if f, err := strconv.ParseFloat(os.Getenv("REALTIME_TEST_TIMEOUT_SCALE"), 64); err == nil && f > 0 {
		d = time.Duration(float64(d) * f)
	}
	return d
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait())
	t.Cleanup(cancel)
	return ctx
}

func closeAtEnd(t *testing.T, b server.Broker) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait())
		defer cancel()
		_ = b.Close(ctx)
	})
}

// recorder keeps what deliver was called with and checks that calls for
// one channel never overlap.
type recorder struct {
	mu      sync.Mutex
	got     map[string][]string
	busy    map[string]bool
	overlap bool
	after   bool // a delivery came once stopped was set
	stopped map[string]bool
	changed chan struct{}
}

func newRecorder() *recorder {
	return &recorder{
		got: make(map[string][]string), busy: make(map[string]bool),
		stopped: make(map[string]bool), changed: make(chan struct{}, 1),
	}
}

func (r *recorder) deliver(m server.Message) {
	ch, data := m.Channel, m.Data
	r.mu.Lock()
	if r.busy[ch] {
		r.overlap = true
	}
	r.busy[ch] = true
	if r.stopped[ch] {
		r.after = true
	}
	r.got[ch] = append(r.got[ch], string(data))
	r.mu.Unlock()
	r.mu.Lock()
	r.busy[ch] = false
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) stop(ch string) {
	r.mu.Lock()
	r.stopped[ch] = true
	r.mu.Unlock()
}

func (r *recorder) snapshot(ch string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got[ch]...)
}

// waitN waits until ch has at least n deliveries and returns them.
func (r *recorder) waitN(t *testing.T, ch string, n int) []string {
	t.Helper()
	deadline := time.NewTimer(wait())
	defer deadline.Stop()
	for {
		if got := r.snapshot(ch); len(got) >= n {
			return got
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("channel %s: %d deliveries, want %d", ch, len(r.snapshot(ch)), n)
		}
	}
}

func (r *recorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.overlap {
		t.Error("deliver calls for one channel overlapped")
	}
	if r.after {
		t.Error("a delivery came after Unsubscribe or Close returned")
	}
}

func testOrder(t *testing.T, b server.Broker) {
	closeAtEnd(t, b)
	ctx := testCtx(t)
	rec := newRecorder()
	if err := b.Subscribe(ctx, "order", rec.deliver); err != nil {
		t.Fatal(err)
	}
	const publishers, each = 8, 200
	errs := make(chan error, publishers)
	for p := range publishers {
		go func() {
			for i := range each {
				if err := publish(ctx, b, "order", fmt.Appendf(nil, "%d:%d", p, i)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range publishers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := rec.waitN(t, "order", publishers*each)
	next := make([]int, publishers)
	for _, m := range got {
		var p, i int
		if _, err := fmt.Sscanf(m, "%d:%d", &p, &i); err != nil {
			t.Fatalf("delivery %q: %v", m, err)
		}
		if i != next[p] {
			t.Fatalf("publisher %d: got %d, want %d (lost, duplicated or reordered)", p, i, next[p])
		}
		next[p]++
	}
	if len(got) != publishers*each {
		t.Fatalf("%d deliveries, want %d", len(got), publishers*each)
	}
	rec.check(t)
}

func testChannelsApart(t *testing.T, b server.Broker) {
	closeAtEnd(t, b)
	ctx := testCtx(t)
	rec := newRecorder()
	for _, ch := range []string{"a", "b"} {
		if err := b.Subscribe(ctx, ch, rec.deliver); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		for _, ch := range []string{"a", "b", "none"} {
			if err := publish(ctx, b, ch, fmt.Appendf(nil, "%s%d", ch, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, ch := range []string{"a", "b"} {
		got := rec.waitN(t, ch, 50)
		for i, m := range got {
			if want := fmt.Sprintf("%s%d", ch, i); m != want {
				t.Fatalf("channel %s delivery %d: %q, want %q", ch, i, m, want)
			}
		}
	}
	if n := len(rec.snapshot("none")); n != 0 {
		t.Fatalf("%d deliveries on a channel nobody subscribed to", n)
	}
	rec.check(t)
}

func testUnsubscribe(t *testing.T, b server.Broker) {
	closeAtEnd(t, b)
	ctx := testCtx(t)
	rec := newRecorder()
	if err := b.Subscribe(ctx, "u", rec.deliver); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { // publishes until told to stop, bounded in count
		for i := 0; i < 100_000; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := publish(ctx, b, "u", []byte(strconv.Itoa(i))); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	rec.waitN(t, "u", 10)
	if err := b.Unsubscribe(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	rec.stop("u")
	// Publishing goes on past the unsubscribe: a late delivery would show.
	n := len(rec.snapshot("u"))
	for i := range 100 {
		if err := publish(ctx, b, "u", []byte("late"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := publish(ctx, b, "u", []byte("flush")); err != nil {
		t.Fatal(err)
	}
	if m := len(rec.snapshot("u")); m != n {
		t.Fatalf("%d deliveries after Unsubscribe returned", m-n)
	}
	rec.check(t)
}

func testSubscribeAgain(t *testing.T, b server.Broker) {
	closeAtEnd(t, b)
	ctx := testCtx(t)
	first, second := newRecorder(), newRecorder()
	if err := b.Subscribe(ctx, "s", first.deliver); err != nil {
		t.Fatal(err)
	}
	if err := b.Unsubscribe(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if err := b.Unsubscribe(ctx, "never"); err != nil {
		t.Fatalf("Unsubscribe of a channel not subscribed: %v", err)
	}
	if err := b.Subscribe(ctx, "s", second.deliver); err != nil {
		t.Fatal(err)
	}
	if err := publish(ctx, b, "s", []byte("x")); err != nil {
		t.Fatal(err)
	}
	second.waitN(t, "s", 1)
	if n := len(first.snapshot("s")); n != 0 {
		t.Fatalf("the first subscription got %d deliveries after Unsubscribe", n)
	}
}

func testEndedContext(t *testing.T, b server.Broker) {
	closeAtEnd(t, b)
	ctx := testCtx(t)
	ended, cancel := context.WithCancel(ctx)
	cancel()
	rec := newRecorder()
	if err := b.Subscribe(ended, "x", rec.deliver); !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe with an ended ctx: %v, want context.Canceled", err)
	}
	if err := publish(ctx, b, "x", []byte("0")); err != nil {
		t.Fatal(err)
	}
	live := newRecorder()
	if err := b.Subscribe(ctx, "y", live.deliver); err != nil {
		t.Fatal(err)
	}
	if err := publish(ended, b, "y", []byte("dropped")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with an ended ctx: %v, want context.Canceled", err)
	}
	if err := publish(ctx, b, "y", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if got := live.waitN(t, "y", 1); got[0] != "kept" {
		t.Fatalf("first delivery %q, want the publish whose ctx was live", got[0])
	}
	if err := b.Unsubscribe(ended, "y"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Unsubscribe with an ended ctx: %v, want context.Canceled", err)
	}
	if n := len(rec.snapshot("x")); n != 0 {
		t.Fatalf("a Subscribe refused for its ctx delivered %d", n)
	}
}

func testClose(t *testing.T, b server.Broker) {
	ctx := testCtx(t)
	rec := newRecorder()
	if err := b.Subscribe(ctx, "c", rec.deliver); err != nil {
		t.Fatal(err)
	}
	if err := publish(ctx, b, "c", []byte("before")); err != nil {
		t.Fatal(err)
	}
	rec.waitN(t, "c", 1)
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	rec.stop("c")
	if err := publish(ctx, b, "c", []byte("after")); !errors.Is(err, server.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want server.ErrClosed", err)
	}
	if err := b.Subscribe(ctx, "d", rec.deliver); !errors.Is(err, server.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v, want server.ErrClosed", err)
	}
	if err := b.Close(ctx); !errors.Is(err, server.ErrClosed) {
		t.Fatalf("second Close: %v, want server.ErrClosed", err)
	}
	rec.check(t)
}

// publish publishes data on ch through b.
func publish(ctx context.Context, b server.Broker, ch string, data []byte) error {
	return b.Publish(ctx, server.Message{Channel: ch, Data: data})
}
