package realtime

import (
	"context"
	"errors"
	"iter"
)

// errHasHandler is what Messages yields on a subscription made with a
// handler, whose messages go to the handler.
var errHasHandler = errors.New("realtime: Messages on a subscription with a handler: subscribe with a nil handler to range over messages")

// Messages returns the subscription's messages as an iterator, for a
// subscription made with a nil handler:
//
//	for m, err := range sub.Messages(ctx) {
//		if err != nil {
//			return err // ctx's error, or ErrClosed
//		}
//		...
//	}
//
// It is a method of the Subscription, rather than a Client.SubscribeIter,
// so that the subscription is acknowledged by the server before the loop
// starts (Subscribe's error says whether it was refused) and so that the
// same Unsubscribe ends either form.
//
// Messages come in order, each once, from the Client's one dispatcher, as
// they would to a handler: the dispatcher waits while the loop body runs,
// and a message is acknowledged to the server when the body moves on to
// the next one (backpressure). Until the loop starts, the dispatcher waits
// for it, holding back delivery on every channel of the Client, as a slow
// handler would; start the loop soon after Subscribe.
//
// A subscription is ranged over once. The loop ends, and with it the
// subscription (as by Unsubscribe, without waiting for the server), when
// the body breaks or returns, when ctx ends (after yielding ctx's error
// once), when the client closes (after yielding ErrClosed once), or when
// the subscription is unsubscribed (without an error). A second Messages
// yields an error at once, as does Messages on a subscription made with a
// handler.
func (s *Subscription) Messages(ctx context.Context) iter.Seq2[Message, error] {
	return func(yield func(Message, error) bool) {
		it := s.it
		if it == nil {
			yield(Message{}, errHasHandler)
			return
		}
		if !it.ranging.CompareAndSwap(false, true) {
			yield(Message{}, errors.New("realtime: Messages called twice on one subscription"))
			return
		}
		defer func() {
			if !s.ended.Load() {
				s.c.forget(s, context.Canceled)
			}
		}()
		closing := s.c.eng.Done()
		for {
			select {
			case m := <-it.in:
				if !yield(m, nil) {
					return // the deferred forget ends the dispatcher's wait
				}
				select {
				case it.next <- struct{}{}:
				case <-it.done:
					return
				case <-closing:
					yield(Message{}, ErrClosed)
					return
				}
			case <-it.done:
				return
			case <-ctx.Done():
				yield(Message{}, ctx.Err())
				return
			case <-closing:
				yield(Message{}, ErrClosed)
				return
			}
		}
	}
}
