package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Errors of Healthy.
var (
	// ErrNotConnected: the NATS connection is not connected.
	ErrNotConnected = errors.New("natsbroker: not connected to NATS")
	// ErrJetStream: the last JetStream operation failed for want of an
	// answer, and no check has succeeded since.
	ErrJetStream = errors.New("natsbroker: JetStream not answering")
)

// health remembers whether the last JetStream operation failed for
// connectivity; while it did, a goroutine checks the account every
// healthEvery and clears it on success.
type health struct {
	mu     sync.Mutex
	bad    bool
	cancel context.CancelFunc
	done   chan struct{}
}

func (h *health) start(c *Cluster) {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		t := time.NewTicker(c.opts.healthEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !h.isBad() || c.nc.Status() != nats.CONNECTED {
				continue
			}
			cctx, ccancel := context.WithTimeout(ctx, c.opts.healthEvery)
			_, err := c.js.AccountInfo(cctx)
			ccancel()
			if err == nil {
				h.set(false)
			}
		}
	}()
}

func (h *health) stop() {
	h.cancel()
	<-h.done
}

func (h *health) isBad() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bad
}

func (h *health) set(bad bool) {
	h.mu.Lock()
	h.bad = bad
	h.mu.Unlock()
}

// failed records err if it says JetStream did not answer.
func (h *health) failed(err error) {
	if connectivity(err) {
		h.set(true)
	}
}

func connectivity(err error) bool {
	for _, e := range []error{
		nats.ErrTimeout, context.DeadlineExceeded, nats.ErrNoResponders,
		nats.ErrConnectionClosed, nats.ErrConnectionReconnecting,
		nats.ErrDisconnected, jetstream.ErrNoStreamResponse,
		jetstream.ErrJetStreamNotEnabled,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Healthy implements server.Health: nil while the connection is connected
// and JetStream answered the last operation (or the check since).
func (c *Cluster) Healthy() error {
	if st := c.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("%w (%s)", ErrNotConnected, st)
	}
	if c.health.isBad() {
		return ErrJetStream
	}
	return nil
}
