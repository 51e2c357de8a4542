package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/realtimekit/realtime"
)

// collector stands for the backend that consumes the telemetry: a second
// client subscribed to the channel, which records what arrives so the
// example can show that what the agent did not drop arrived exactly once,
// in order. It checks end to end, so it works against any server.
type collector struct {
	mu   sync.Mutex
	got  []int // reading numbers, in arrival order
	more chan struct{}
}

func (k *collector) add(m realtime.Message) {
	// Parsed by hand: encoding/json would add about 0.1 MiB to the device
	// binary for this one field.
	n := -1 // unparsable: counted as unexpected below
	if s, ok := strings.CutPrefix(string(m.Data), `{"n":`); ok {
		if end := strings.IndexByte(s, ','); end > 0 {
			if v, err := strconv.Atoi(s[:end]); err == nil {
				n = v
			}
		}
	}
	k.mu.Lock()
	k.got = append(k.got, n)
	if k.more != nil {
		close(k.more)
		k.more = nil
	}
	k.mu.Unlock()
}

// wait returns once n readings have arrived, or with ctx's error.
func (k *collector) wait(ctx context.Context, n int) error {
	for {
		k.mu.Lock()
		got := len(k.got)
		if got >= n {
			k.mu.Unlock()
			return nil
		}
		if k.more == nil {
			k.more = make(chan struct{})
		}
		more := k.more
		k.mu.Unlock()
		select {
		case <-more:
		case <-ctx.Done():
			return fmt.Errorf("collector received %d of %d readings: %w", got, n, ctx.Err())
		}
	}
}

// check compares what arrived with the readings acknowledged (acked[i]
// true when reading i was): it counts readings received twice, received
// out of order, received though never acknowledged, and acknowledged but
// never received.
func (k *collector) check(acked []bool) (received, dup, order, unexpected, missing int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	seen := make([]bool, len(acked))
	last := -1
	for _, n := range k.got {
		switch {
		case n < 0 || n >= len(acked) || !acked[n]:
			unexpected++
		case seen[n]:
			dup++
		case n < last:
			order++
		}
		if n >= 0 && n < len(seen) {
			seen[n] = true
		}
		last = max(last, n)
	}
	for i, a := range acked {
		if a && !seen[i] {
			missing++
		}
	}
	return len(k.got), dup, order, unexpected, missing
}
