package server

import (
	"context"
	"sync"
)

// Broker carries publications to the nodes (Servers) that subscribed to a
// channel. A Server subscribes to a channel once, while at least one of
// its sessions is subscribed, and fans each delivery out to those
// sessions itself. The in-process implementation is NewLocalBroker; one
// backed by a message broker lets several Servers share channels. Every
// implementation should pass the suite in package server/brokertest.
//
// Methods are safe for concurrent use. A call whose ctx has ended returns
// an error (wrapping ctx's) and, for Subscribe and Publish, has no effect.
type Broker interface {
	// Publish hands m to the broker for every subscriber of m.Channel. It
	// returns once the broker has taken it (a broker with a log: stored
	// it): delivery may come before or after. Publications on one channel
	// are delivered to every subscriber in one order, which follows the
	// order of the Publish calls that did not overlap. The broker may keep
	// m.Data; the caller does not modify it. m.Pos is ignored.
	Publish(ctx context.Context, m Message) error
	// Subscribe starts calling deliver with each publication on channel,
	// one call at a time per channel, in the channel's order. deliver
	// returns quickly and does not call the Broker. A Server calls
	// Subscribe at most once per channel until it unsubscribes.
	Subscribe(ctx context.Context, channel string, deliver func(Message)) error
	// Unsubscribe stops the deliveries of channel: once it returns without
	// error, deliver is not running for channel and is not called again.
	Unsubscribe(ctx context.Context, channel string) error
	// Close ends every subscription and releases the broker; once it
	// returns, no deliver runs or will run. Later calls return ErrClosed.
	Close(ctx context.Context) error
}

// LocalBroker is the in-process Broker: it delivers on the publisher's
// goroutine, under the channel's lock, which gives one order per channel
// and lets different channels proceed in parallel. It keeps no log: it
// ignores Message.ID and delivers with Pos zero.
type LocalBroker struct {
	mu     sync.RWMutex
	closed bool
	topics map[string]*topic
}

type topic struct {
	mu      sync.Mutex
	deliver func(Message) // nil once unsubscribed
}

var _ Broker = (*LocalBroker)(nil)

// NewLocalBroker returns an empty in-process Broker.
func NewLocalBroker() *LocalBroker {
	return &LocalBroker{topics: make(map[string]*topic)}
}

// Subscribe implements Broker. A second Subscribe to a channel replaces
// the first one's deliver.
func (b *LocalBroker) Subscribe(ctx context.Context, channel string, deliver func(Message)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	t := b.topics[channel]
	if t == nil {
		t = &topic{}
		b.topics[channel] = t
	}
	t.mu.Lock()
	t.deliver = deliver
	t.mu.Unlock()
	return nil
}

// Unsubscribe implements Broker.
func (b *LocalBroker) Unsubscribe(ctx context.Context, channel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if t := b.topics[channel]; t != nil {
		delete(b.topics, channel)
		t.mu.Lock() // waits for a delivery in progress
		t.deliver = nil
		t.mu.Unlock()
	}
	return nil
}

// Publish implements Broker.
func (b *LocalBroker) Publish(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	closed, t := b.closed, b.topics[m.Channel]
	b.mu.RUnlock()
	switch {
	case closed:
		return ErrClosed
	case t == nil:
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// Unsubscribed after we looked it up: whoever subscribes again does
	// so concurrently with this publish and need not see it.
	if t.deliver != nil {
		m.Pos = 0
		t.deliver(m)
	}
	return nil
}

// Close implements Broker.
func (b *LocalBroker) Close(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.closed = true
	for ch, t := range b.topics {
		t.mu.Lock()
		t.deliver = nil
		t.mu.Unlock()
		delete(b.topics, ch)
	}
	return nil
}
