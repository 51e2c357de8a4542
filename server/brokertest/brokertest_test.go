package brokertest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/server/brokertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

func TestLocalBroker(t *testing.T) {
	brokertest.Run(t, func(*testing.T) server.Broker { return server.NewLocalBroker() })
}

func TestRemoteBroker(t *testing.T) {
	brokertest.Run(t, func(*testing.T) server.Broker { return newRemote(200 * time.Microsecond) })
}

// remote is a fake remote broker: Publish appends to the channel's log
// and returns; each subscription reads the log on a goroutine of its own
// and delivers after a latency, as a broker across the network would.
type remote struct {
	latency time.Duration

	mu     sync.Mutex
	closed bool
	logs   map[string]*chanLog
	subs   map[string]*remoteSub
}

type chanLog struct {
	mu      sync.Mutex
	entries []server.Message
	grew    chan struct{} // closed and replaced on each append
}

type remoteSub struct {
	stop chan struct{}
	done chan struct{}
}

func newRemote(latency time.Duration) *remote {
	return &remote{latency: latency, logs: make(map[string]*chanLog), subs: make(map[string]*remoteSub)}
}

func (b *remote) logOf(channel string) *chanLog {
	l := b.logs[channel]
	if l == nil {
		l = &chanLog{grew: make(chan struct{})}
		b.logs[channel] = l
	}
	return l
}

func (b *remote) Publish(ctx context.Context, m server.Message) error {
	channel := m.Channel
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return server.ErrClosed
	}
	l := b.logOf(channel)
	b.mu.Unlock()
	l.mu.Lock()
	l.entries = append(l.entries, m)
	close(l.grew)
	l.grew = make(chan struct{})
	l.mu.Unlock()
	return nil
}

func (b *remote) Subscribe(ctx context.Context, channel string, deliver func(server.Message)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return server.ErrClosed
	}
	l := b.logOf(channel)
	l.mu.Lock()
	from := len(l.entries) // new publications only
	l.mu.Unlock()
	s := &remoteSub{stop: make(chan struct{}), done: make(chan struct{})}
	b.subs[channel] = s
	go s.run(b.latency, channel, l, from, deliver)
	return nil
}

func (s *remoteSub) run(latency time.Duration, channel string, l *chanLog, next int, deliver func(server.Message)) {
	defer close(s.done)
	timer := time.NewTimer(latency)
	defer timer.Stop()
	for {
		l.mu.Lock()
		var m server.Message
		have := next < len(l.entries)
		if have {
			m = l.entries[next]
		}
		grew := l.grew
		l.mu.Unlock()
		if !have {
			select {
			case <-grew:
				continue
			case <-s.stop:
				return
			}
		}
		timer.Reset(latency) // the network's delay
		select {
		case <-timer.C:
		case <-s.stop:
			return
		}
		m.Channel = channel
		deliver(m)
		next++
	}
}

func (b *remote) Unsubscribe(ctx context.Context, channel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	s := b.subs[channel]
	delete(b.subs, channel)
	b.mu.Unlock()
	if s == nil {
		return nil
	}
	close(s.stop)
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *remote) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return server.ErrClosed
	}
	b.closed = true
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	for _, s := range subs {
		close(s.stop)
	}
	for _, s := range subs {
		select {
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
