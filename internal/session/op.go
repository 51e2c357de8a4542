package session

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/realtimekit/realtime/codec"
)

// OpState is where an Op stands.
type OpState int32

// The states of an Op.
const (
	Queued  OpState = iota // waiting in the outbox, not sent yet
	Sent                   // sent, not acknowledged yet
	Acked                  // acknowledged by the server: done
	Refused                // refused by the server (nack): done
	Failed                 // failed locally (session lost, withdrawn, client closed): done
)

var opStateNames = [...]string{"queued", "sent", "acknowledged", "refused", "failed"}

func (s OpState) String() string {
	if s >= 0 && int(s) < len(opStateNames) {
		return opStateNames[s]
	}
	return "unknown"
}

// Op is one client operation the server must acknowledge: a publish, a
// subscribe or an unsubscribe. Its frame gets a sequence number when it is
// first sent, so an Op withdrawn before that leaves no gap.
type Op struct {
	Frame codec.Frame
	// Internal ops (re-subscriptions after a lost session, operations
	// restored from a store) have no waiter.
	Internal bool
	// ID is the op's id in the store, when the session is stored.
	ID uint64

	size  int
	start time.Time // when it was made, for the ack latency
	state atomic.Int32
	err   error // set before done is closed
	done  chan struct{}
}

// NewOp returns a queued Op for f. Its size, which the outbox's byte
// limit counts, is its payload, channel and header bytes.
func NewOp(f codec.Frame) *Op {
	size := len(f.Data) + len(f.Channel)
	for k, v := range f.Header {
		size += len(k) + len(v)
	}
	return &Op{Frame: f, size: size, start: time.Now(), done: make(chan struct{})}
}

// State returns the Op's state.
func (o *Op) State() OpState { return OpState(o.state.Load()) }

// Done is closed when the Op reaches Acked, Refused or Failed.
func (o *Op) Done() <-chan struct{} { return o.done }

// Err returns nil once Acked, the refusal or failure once done, and nil
// before that.
func (o *Op) Err() error {
	select {
	case <-o.done:
		return o.err
	default:
		return nil
	}
}

// Wait blocks until the Op is done or ctx ends.
func (o *Op) Wait(ctx context.Context) error {
	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (o *Op) finish(s OpState, err error) {
	if o.State() >= Acked {
		return
	}
	o.err = err
	o.state.Store(int32(s))
	close(o.done)
}
