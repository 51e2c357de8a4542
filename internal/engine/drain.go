package engine

import (
	"context"

	"github.com/realtimekit/realtime/internal/session"
)

// Drain refuses every later publish with ErrDraining and returns the
// operations still queued or in flight, for the caller to wait on: no
// publish can join them afterwards. It reports false once closed.
func (e *Engine) Drain() ([]*session.Op, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, false
	}
	e.draining = true
	return e.sess.Ops(nil), true
}

// Done is closed when Close begins. A consumer that waits for something
// outside the engine (an iterator's loop body) waits on it too, so Close,
// which waits for the consumer's call, cannot wait forever.
func (e *Engine) Done() <-chan struct{} { return e.ctx.Done() }

// Settle waits until every item queued so far was consumed (its Consume
// call returned) or dropped, or the queue stopped, or ctx ends.
func (e *Engine) Settle(ctx context.Context) error { return e.disp.settle(ctx) }

// UpdateSub replaces channel's subscription value with f(old) (old is nil
// when channel is not subscribed) in one step under the subscriptions'
// lock; a nil result forgets channel. f must not block or call back into
// the engine.
func (e *Engine) UpdateSub(channel string, f func(old any) any) {
	e.subMu.Lock()
	defer e.subMu.Unlock()
	if v := f(e.subs[channel]); v != nil {
		e.subs[channel] = v
		e.handlerAddedLocked()
	} else {
		delete(e.subs, channel)
		if e.store != nil {
			e.store.gaveUp[channel] = true // a restored message on it waits no more
		}
	}
}

// settle is Engine.Settle's wait.
func (d *Queue) settle(ctx context.Context) error {
	d.mu.Lock()
	target := d.pushed
	for d.finished < target && !d.stopped {
		if d.settled == nil {
			d.settled = make(chan struct{})
		}
		ch := d.settled
		d.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		d.mu.Lock()
	}
	d.mu.Unlock()
	return nil
}

// progressLocked records n more items finished and wakes settle's waiters,
// if any. d.mu is held.
func (d *Queue) progressLocked(n int) {
	d.finished += uint64(n)
	if d.settled != nil {
		close(d.settled)
		d.settled = nil
	}
}
