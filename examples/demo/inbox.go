package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/realtimekit/realtime"
)

// inbox records deliveries; handlers run on one goroutine, but the main
// goroutine reads it, hence the lock.
type inbox struct {
	mu   sync.Mutex
	msgs []string
	more chan struct{}
}

func (b *inbox) add(m realtime.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, string(m.Data))
	if b.more != nil {
		close(b.more)
		b.more = nil
	}
	b.mu.Unlock()
}

func (b *inbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

func (b *inbox) wait(ctx context.Context, n int) error {
	for {
		b.mu.Lock()
		if len(b.msgs) >= n {
			b.mu.Unlock()
			return nil
		}
		if b.more == nil {
			b.more = make(chan struct{})
		}
		more := b.more
		b.mu.Unlock()
		select {
		case <-more:
		case <-ctx.Done():
			return fmt.Errorf("received %d of %d messages: %w", b.len(), n, ctx.Err())
		}
	}
}

// check counts, per sender, messages missing, seen twice, or seen before
// an earlier one; a message from no known sender counts as out of order.
func (b *inbox) check(senders []string, n int) (lost, dup, order int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	next := map[string]int{}
	seen := map[string]bool{}
	for _, m := range b.msgs {
		var who string
		var k int
		if _, err := fmt.Sscanf(m, "%s #%d", &who, &k); err != nil {
			order++
			continue
		}
		if seen[m] {
			dup++
			continue
		}
		seen[m] = true
		if k != next[who] {
			order++
		}
		next[who] = k + 1
	}
	for _, s := range senders {
		for k := range n {
			if !seen[fmt.Sprintf("%s #%d", s, k)] {
				lost++
			}
		}
	}
	return lost, dup, order
}
