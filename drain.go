package realtime

import (
	"context"
	"fmt"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/engine"
	"github.com/realtimekit/realtime/internal/session"
)

// ErrDraining is returned by PublishAsync and Publish once Drain was
// called, until Close makes it ErrClosed.
var ErrDraining = engine.ErrDraining

// DrainError is Drain's error when ctx ended first: the client was closed
// anyway, and Remaining publishes were not acknowledged (they failed with
// ErrClosed). It unwraps to ctx's error.
type DrainError struct {
	// Remaining counts the publishes not acknowledged, refused or failed
	// when ctx ended; 0 when only handlers were still at work.
	Remaining int
	// Err is ctx's error.
	Err error
}

// Error says how many publishes remained.
func (e *DrainError) Error() string {
	return fmt.Sprintf("realtime: drain cut short with %d publishes unacknowledged: %v", e.Remaining, e.Err)
}

// Unwrap returns ctx's error.
func (e *DrainError) Unwrap() error { return e.Err }

// Drain closes the client gracefully: it stops accepting publishes
// (PublishAsync then returns ErrDraining), waits until every publish
// already made is acknowledged, refused or failed, waits until the
// handlers and iterator loops have finished the messages queued for them,
// and then closes the client as Close does. Subscriptions keep receiving
// while it waits.
//
// ctx bounds the wait: when it ends first, Drain closes the client anyway
// and returns a *DrainError that wraps ctx's error and counts the
// publishes that remained. After Close, Drain returns ErrClosed. Like
// Close, it must not be called from a handler (the dispatcher would wait
// for itself); a subscription read with Messages whose loop has not
// started holds the drain until ctx ends.
func (c *Client) Drain(ctx context.Context) error {
	ops, ok := c.eng.Drain()
	if !ok {
		return ErrClosed
	}
	var derr error
	for i, op := range ops {
		select {
		case <-op.Done():
			continue
		case <-ctx.Done():
		}
		n := 0
		for _, o := range ops[i:] {
			if o.Frame.Type == codec.TypePublish && o.State() < session.Acked {
				n++
			}
		}
		derr = &DrainError{Remaining: n, Err: ctx.Err()}
		break
	}
	if derr == nil {
		if err := c.eng.Settle(ctx); err != nil {
			derr = &DrainError{Err: err}
		}
	}
	if err := c.Close(); err != nil && derr == nil {
		return err
	}
	return derr
}
