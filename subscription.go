package realtime

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/session"
)

// Subscription is one consumer of a channel, made by Client.Subscribe:
// with a handler, or, without one, read with Messages. A channel may have
// several; each sees every message of the channel once, in order. They
// share the server's subscription, which ends with the last of them.
type Subscription struct {
	c       *Client
	channel string
	h       Handler // nil: read with Messages (it is set)
	it      *iterState
	ended   atomic.Bool
	// pending is the channel's subscribe request while in flight, on the
	// subscription that sent it, for later ones to wait on. Guarded by the
	// engine's subscriptions lock (read and written in UpdateSub only).
	pending *session.Op
}

// subList is a channel's value in the engine when it has several
// subscriptions (one is stored as itself). It is copy-on-write: the
// dispatcher reads a snapshot without a lock.
type subList []*Subscription

// Unsubscribe ends every subscription of channel, as each one's
// Subscription.Unsubscribe would, tells the server and waits for its
// acknowledgement. Messages already on their way are dropped. It returns
// nil at once if channel has no subscription.
func (c *Client) Unsubscribe(ctx context.Context, channel string) error {
	if !c.unsubscribeAll(channel) {
		return nil
	}
	return c.request(ctx, codec.TypeUnsub, channel)
}

func (c *Client) request(ctx context.Context, t codec.Type, channel string) error {
	op := session.NewOp(codec.Frame{Type: t, Channel: channel})
	if err := c.eng.Enqueue(op); err != nil {
		return publicErr(err)
	}
	return publicErr(op.Wait(ctx))
}

// Channel returns the subscription's channel.
func (s *Subscription) Channel() string { return s.channel }

// Unsubscribe ends this subscription: its handler or loop receives no more
// messages (those on their way are dropped). Only when it was the
// channel's last does it tell the server and wait for the server's
// acknowledgement; otherwise it returns nil at once. A second call
// returns nil.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	found, last := s.c.remove(s)
	if !found || !last {
		return nil
	}
	return s.c.request(ctx, codec.TypeUnsub, s.channel)
}

// end marks s ended and stops its iterator's wait.
func (s *Subscription) end() {
	if s.ended.CompareAndSwap(false, true) && s.it != nil {
		close(s.it.done)
	}
}

// remove takes s out of its channel and ends it; it reports whether s was
// there and whether the channel has none left.
func (c *Client) remove(s *Subscription) (found, last bool) {
	c.eng.UpdateSub(s.channel, func(old any) any {
		switch o := old.(type) {
		case *Subscription:
			if o == s {
				found, last = true, true
				return nil
			}
		case subList:
			for i, x := range o {
				if x != s {
					continue
				}
				found = true
				if len(o) == 2 {
					return o[1-i]
				}
				return append(o[:i:i], o[i+1:]...)
			}
		}
		return old
	})
	s.end()
	return found, last
}

// add records s on its channel; it reports whether s is the first, and
// returns the subscribe request in flight that s must wait on, if any.
// The first gets its request here, so a later one can wait on it.
func (c *Client) add(s *Subscription) (first bool, wait *session.Op) {
	c.eng.UpdateSub(s.channel, func(old any) any {
		switch o := old.(type) {
		case nil:
			first = true
			s.pending = session.NewOp(codec.Frame{Type: codec.TypeSubscribe, Channel: s.channel})
			wait = s.pending
			return s
		case *Subscription:
			wait = o.pending
			return subList{o, s}
		case subList:
			for _, x := range o {
				if x.pending != nil {
					wait = x.pending
				}
			}
			return append(o[:len(o):len(o)], s)
		}
		return old
	})
	return first, wait
}

// settled clears s's request once the server acknowledged it.
func (c *Client) settled(s *Subscription) {
	c.eng.UpdateSub(s.channel, func(old any) any {
		s.pending = nil
		return old
	})
}

// unsubscribeAll ends every subscription of channel; it reports whether
// there was one.
func (c *Client) unsubscribeAll(channel string) bool {
	var old any
	c.eng.UpdateSub(channel, func(o any) any { old = o; return nil })
	switch o := old.(type) {
	case *Subscription:
		o.end()
	case subList:
		for _, s := range o {
			s.end()
		}
	default:
		return false
	}
	return true
}

// forget removes s after its Subscribe failed with err, telling the server
// when s was the channel's last and the subscribe may have taken effect
// (ctx ended while it was in flight). It does not wait.
func (c *Client) forget(s *Subscription, err error) {
	_, last := c.remove(s)
	var re *RefusedError
	if last && !errors.As(err, &re) && !errors.Is(err, ErrClosed) {
		_ = c.eng.Enqueue(session.NewOp(codec.Frame{Type: codec.TypeUnsub, Channel: s.channel}))
	}
}

// deliver hands m to s; it reports whether s took it.
func (s *Subscription) deliver(m Message) bool {
	if s.ended.Load() {
		return false
	}
	if s.h != nil {
		s.h(m)
		return true
	}
	return s.it.hand(m, s.c.eng.Done())
}

// iterState is what a subscription read with Messages adds: the
// dispatcher hands a message over in, then waits on next for the loop body
// to move on.
type iterState struct {
	in      chan Message
	next    chan struct{}
	done    chan struct{} // closed when the subscription ends
	ranging atomic.Bool   // a loop has started
}

func newIterState() *iterState {
	return &iterState{in: make(chan Message), next: make(chan struct{}), done: make(chan struct{})}
}

// hand gives m to the loop and waits until its body has finished with it,
// the subscription ends or the client closes (closing).
func (it *iterState) hand(m Message, closing <-chan struct{}) bool {
	select {
	case it.in <- m:
	case <-it.done:
		return false
	case <-closing:
		return false
	}
	select {
	case <-it.next:
	case <-it.done:
	case <-closing:
	}
	return true
}
