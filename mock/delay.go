package mock

import (
	"sync"
	"time"

	"github.com/realtimekit/realtime/codec"
)

// maxDelayed bounds the acks held by DelayAcks; beyond it an ack is
// dropped, which a client survives as it would a lost one.
const maxDelayed = 1 << 16

// ackDelayer holds the acks DelayAcks took out of outgoing batches and
// sends each when due, in the order they were taken, on one goroutine
// started with the first.
type ackDelayer struct {
	s    *Server
	kick chan struct{}
	done chan struct{}

	mu      sync.Mutex
	queue   []delayedAck
	started bool
	closed  bool
}

type delayedAck struct {
	m   *mconn
	f   codec.Frame
	due time.Time
}

func newAckDelayer(s *Server) *ackDelayer {
	return &ackDelayer{s: s, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

func (d *ackDelayer) add(m *mconn, f codec.Frame, delay time.Duration) {
	d.mu.Lock()
	if d.closed || len(d.queue) >= maxDelayed {
		d.mu.Unlock()
		return
	}
	d.queue = append(d.queue, delayedAck{m: m, f: f, due: time.Now().Add(delay)})
	start := !d.started
	d.started = true
	d.mu.Unlock()
	if start {
		d.s.goTracked(d.run)
	}
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *ackDelayer) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.done)
	}
}

func (d *ackDelayer) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.mu.Lock()
		now := time.Now()
		var ready []delayedAck
		for len(d.queue) > 0 && !d.queue[0].due.After(now) {
			ready = append(ready, d.queue[0])
			d.queue[0] = delayedAck{}
			d.queue = d.queue[1:]
		}
		wait := time.Hour
		if len(d.queue) > 0 {
			wait = d.queue[0].due.Sub(now)
		}
		d.mu.Unlock()
		for _, a := range ready {
			if msg, err := a.m.info.Codec.Encode(nil, a.f); err == nil {
				a.m.inject(msg)
			}
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-d.kick:
		case <-d.done:
			return
		}
	}
}
