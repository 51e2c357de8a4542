package chaos

import (
	"context"
	"fmt"
	"sync"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
)

// gate is a count that only grows, with a way to wait for it. It lets the
// publishers run only as far as the chaos loop allows, so that the kills
// are spread over the whole stream instead of landing before or after it;
// it also counts settled publishes, for a test to wait on.
type gate struct {
	mu      sync.Mutex
	limit   int
	changed chan struct{}
}

func newGate() *gate { return &gate{changed: make(chan struct{})} }

// open lets messages 0..n-1 through.
func (g *gate) open(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n > g.limit {
		g.limit = n
		close(g.changed)
		g.changed = make(chan struct{})
	}
}

// allows reports whether message i may go now.
func (g *gate) allows(i int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return i < g.limit
}

// wait blocks until message i may go, or ctx ends.
func (g *gate) wait(ctx context.Context, i int) error {
	for {
		g.mu.Lock()
		ok, ch := i < g.limit, g.changed
		g.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// upResult is how the client's publishes ended.
type upResult struct {
	acked  int
	failed map[int]error // by index: publishes that did not succeed
	err    error         // what stopped the publisher early, if anything
}

// publishUp publishes 0..n-1 on upChannel through g with PublishAsync,
// keeping at most window unacknowledged (well under the outbox bound, so
// ErrOutboxFull would be a finding, not a pacing artefact), and waits for
// every receipt. Before it waits at the gate it settles what it has
// published, and it reports how many publishes are settled to settled, if
// not nil, so that a test can tell when nothing is in flight.
func publishUp(ctx context.Context, c *realtime.Client, g *gate, n, window int, settled *gate) upResult {
	res := upResult{failed: make(map[int]error)}
	type pending struct {
		i int
		r *realtime.Receipt
	}
	var q []pending
	done := 0
	settle := func() error {
		p := q[0]
		q = q[1:]
		if err := p.r.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("publish %d not settled: %w", p.i, err)
			}
			res.failed[p.i] = err
		} else {
			res.acked++
		}
		done++
		if settled != nil {
			settled.open(done)
		}
		return nil
	}
	for i := 0; i < n && res.err == nil; i++ {
		for len(q) >= window || (len(q) > 0 && !g.allows(i)) {
			if res.err = settle(); res.err != nil {
				return res
			}
		}
		if res.err = g.wait(ctx, i); res.err != nil {
			return res
		}
		r, err := c.PublishAsync(upChannel, payload(i))
		if err != nil {
			res.err = fmt.Errorf("PublishAsync %d: %w", i, err)
			return res
		}
		q = append(q, pending{i, r})
	}
	for len(q) > 0 && res.err == nil {
		res.err = settle()
	}
	return res
}

// publishDown publishes 0..n-1 on downChannel from the server through g,
// never more than window ahead of what the client's handler has seen, so
// that a kill always finds messages in flight but the server's session
// buffer is never the limit.
func publishDown(ctx context.Context, srv *mock.Server, obs *observer, g *gate, n, window int) error {
	for i := 0; i < n; i++ {
		if err := g.wait(ctx, i); err != nil {
			return err
		}
		err := obs.wait(ctx, func() bool { return obs.maxDown >= i-window })
		if err != nil {
			return fmt.Errorf("down %d: client at %d: %w", i, obs.delivered(), err)
		}
		if err := srv.Publish(ctx, downChannel, payload(i)); err != nil {
			return fmt.Errorf("server publish %d: %w", i, err)
		}
	}
	return nil
}
