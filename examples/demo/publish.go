package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/realtimekit/realtime"
)

// publish sends n messages named "<name> #<k>" on channel, keeping up to
// window of them in flight (queued, sent, not yet acknowledged): it
// publishes with PublishAsync and waits for the oldest receipt only when
// the window is full, as a producer that wants throughput does.
//
// With a pause, once half the messages are acknowledged it stops, calls
// pause.arrive.Done, and continues when pause.resume is closed: the demo's
// forced drop happens then. It calls pause.arrive.Done on failure too, so
// that pause.arrive.Wait always returns.
func publish(ctx context.Context, c *realtime.Client, channel, name string, n, window int, pause *pause) error {
	arrive := func() {}
	if pause != nil {
		var once sync.Once
		arrive = func() { once.Do(pause.arrive.Done) }
		defer arrive()
	}
	half := n / 2
	inFlight := make([]*realtime.Receipt, 0, window)
	drain := func(keep int) error {
		for len(inFlight) > keep {
			if err := inFlight[0].Wait(ctx); err != nil {
				return err
			}
			inFlight = inFlight[1:]
		}
		return nil
	}
	for k := range n {
		if pause != nil && k == half {
			if err := drain(0); err != nil {
				return fmt.Errorf("%s: publish before %d: %w", name, k, err)
			}
			arrive()
			select {
			case <-pause.resume:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		r, err := c.PublishAsync(channel, fmt.Appendf(nil, "%s #%d", name, k))
		if err != nil {
			return fmt.Errorf("%s: publish %d: %w", name, k, err)
		}
		inFlight = append(inFlight, r)
		if err := drain(window - 1); err != nil {
			return fmt.Errorf("%s: publish before %d: %w", name, k, err)
		}
	}
	if err := drain(0); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// pause holds every publisher at its halfway mark: each calls arrive.Done
// there and waits for resume to be closed.
type pause struct {
	arrive sync.WaitGroup
	resume chan struct{}
}
