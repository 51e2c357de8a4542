package server

import (
	"context"
	"sync"
)

// Broker fans publications out to the sessions subscribed to a channel.
// The in-process implementation is NewLocalBroker; one backed by a message
// broker lets several servers share channels.
//
// A Broker must deliver the publications of one channel to every
// subscriber in one order, the order in which Publish was called for that
// channel (or, across machines, one order that all of them observe).
type Broker interface {
	// Subscribe starts delivering channel to sub. Subscribing twice is the
	// same as once.
	Subscribe(ctx context.Context, channel string, sub Subscriber) error
	// Unsubscribe stops delivering channel to sub. Once it returns, sub
	// gets no more deliveries for channel.
	Unsubscribe(channel string, sub Subscriber)
	// Publish delivers data to every subscriber of channel. The broker may
	// keep data; the caller does not modify it afterwards.
	Publish(ctx context.Context, channel string, data []byte) error
}

// Subscriber receives deliveries from a Broker.
type Subscriber interface {
	// Deliver hands over one publication. It must not block, must not call
	// back into the Broker, and must not modify data, which is shared by
	// every subscriber.
	Deliver(channel string, data []byte)
}

// LocalBroker is an in-process Broker. Publications on one channel are
// delivered under that channel's lock, which gives every subscriber the
// same order and lets different channels proceed in parallel.
type LocalBroker struct {
	mu     sync.RWMutex
	topics map[string]*topic
}

type topic struct {
	mu   sync.Mutex
	subs map[Subscriber]struct{}
	dead bool // removed from the map; publishers holding it skip it
}

var _ Broker = (*LocalBroker)(nil)

// NewLocalBroker returns an empty in-process Broker.
func NewLocalBroker() *LocalBroker {
	return &LocalBroker{topics: make(map[string]*topic)}
}

// Subscribe implements Broker.
func (b *LocalBroker) Subscribe(_ context.Context, channel string, sub Subscriber) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[channel]
	if t == nil {
		t = &topic{subs: make(map[Subscriber]struct{})}
		b.topics[channel] = t
	}
	t.mu.Lock()
	t.subs[sub] = struct{}{}
	t.mu.Unlock()
	return nil
}

// Unsubscribe implements Broker.
func (b *LocalBroker) Unsubscribe(channel string, sub Subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[channel]
	if t == nil {
		return
	}
	t.mu.Lock()
	delete(t.subs, sub)
	if len(t.subs) == 0 {
		t.dead = true
		delete(b.topics, channel)
	}
	t.mu.Unlock()
}

// Publish implements Broker.
func (b *LocalBroker) Publish(_ context.Context, channel string, data []byte) error {
	b.mu.RLock()
	t := b.topics[channel]
	b.mu.RUnlock()
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// A dead topic was emptied after we looked it up; whoever subscribed
	// since did so concurrently with this publish and need not see it.
	if t.dead {
		return nil
	}
	for s := range t.subs {
		s.Deliver(channel, data)
	}
	return nil
}
