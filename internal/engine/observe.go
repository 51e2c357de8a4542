package engine

import (
	"sync/atomic"
	"time"

	"github.com/realtimekit/realtime/internal/connstate"
	"github.com/realtimekit/realtime/internal/session"
	"github.com/realtimekit/realtime/reconnect"
)

// byteCounts are the engine's byte counters. They are atomics, not
// guarded by Engine.mu: the reader and the writer count their messages
// outside the lock, and the dispatcher counts deliveries.
type byteCounts struct {
	sent, received       atomic.Uint64 // encoded messages on live links
	published, delivered atomic.Uint64 // payload bytes accepted, handed to handlers
}

// Bytes is a snapshot of the byte counters.
type Bytes struct {
	// Sent and Received are the encoded bytes of the messages the writer
	// sent and the reader received on live links, on every transport:
	// frames, acks and pings, not the handshake (connect, hello) nor the
	// goodbye on Close.
	Sent, Received uint64
	// Published is the payload bytes of the publishes Enqueue accepted;
	// Delivered those of the messages handed to a handler.
	Published, Delivered uint64
}

// Bytes returns the byte counters.
func (e *Engine) Bytes() Bytes {
	return Bytes{
		Sent: e.bytes.sent.Load(), Received: e.bytes.received.Load(),
		Published: e.bytes.published.Load(), Delivered: e.bytes.delivered.Load(),
	}
}

// DeliveredBytes counts n payload bytes handed to a handler; the
// façade's dispatcher calls it before Processed.
func (e *Engine) DeliveredBytes(n int) { e.bytes.delivered.Add(uint64(n)) }

// countSent counts a message of n bytes the writer sent, unless err says
// the link did not take it.
func (e *Engine) countSent(n int, err error) {
	if err == nil {
		e.bytes.sent.Add(uint64(n))
	}
}

// EventKind says what an Event reports; the façade's kinds are numbered
// the same.
type EventKind uint8

// The kinds of Event.
const (
	EventConnect EventKind = iota + 1
	EventDisconnect
	EventTransportChange
	EventResume
	EventPublish
	EventAck
	EventNack
	EventDrop
	EventDeliver
)

// Event is what Config.Observe receives; see the façade's Event.
type Event struct {
	Kind      EventKind
	At        time.Time
	Transport string
	Reason    string
	Channel   string
	Seq       uint64
	Header    map[string]string
	Bytes     int
	Latency   time.Duration
	Err       error
}

// observing reports whether Config.Observe is set.
func (e *Engine) observing() bool { return e.cfg.Observe != nil }

// lastChange returns the last state change, for the next one's duration and
// the transport it ends; the zero Change when nobody observes. evMu is
// held.
func (e *Engine) lastChange() connstate.Change {
	if !e.observing() {
		return connstate.Change{}
	}
	return e.state.Last()
}

// observeChange reports a state change (ok) as the events it means, on
// the goroutine that changed the state, outside every lock: prev is the
// change before it.
func (e *Engine) observeChange(ch connstate.Change, ok bool, prev connstate.Change) {
	if !ok || !e.observing() {
		return
	}
	ev := Event{At: ch.At, Transport: ch.Transport, Reason: ch.Reason, Err: ch.Err}
	if !prev.At.IsZero() {
		ev.Latency = ch.At.Sub(prev.At)
	}
	if ev.Transport == "" {
		ev.Transport = prev.Transport // the one a disconnect ended
	}
	switch {
	case ch.To == reconnect.Connected && ch.From == reconnect.Connected:
		ev.Kind = EventTransportChange
	case ch.To == reconnect.Connected && ch.Reason == "session resumed":
		ev.Kind = EventResume
	case ch.To == reconnect.Connected:
		ev.Kind = EventConnect
	case ch.From == reconnect.Connected:
		ev.Kind = EventDisconnect
	default:
		return
	}
	e.cfg.Observe(ev)
}

// flushSettled reports the publishes that settled since the last call:
// acknowledged, refused or failed locally. It takes e.mu, so it is called
// where e.mu is not held, on the goroutine that settled them (the reader
// for acks and refusals).
func (e *Engine) flushSettled() {
	if !e.observing() {
		return
	}
	e.mu.Lock()
	ops := e.sess.Settled
	e.sess.Settled = nil
	tr := e.transport
	e.mu.Unlock()
	for _, op := range ops {
		ev := opEvent(EventDrop, op, tr)
		switch op.State() {
		case session.Acked:
			ev.Kind = EventAck
		case session.Refused:
			ev.Kind = EventNack
		}
		ev.Err = op.Err()
		e.cfg.Observe(ev)
	}
}

// Publishing reports op, a publish about to be queued, on the caller's
// goroutine: before the server can answer it.
func (e *Engine) Publishing(op *session.Op) {
	if e.observing() {
		e.cfg.Observe(opEvent(EventPublish, op, e.Transport()))
	}
}

// Rejected reports op, whose Enqueue returned err: failed before it was
// queued (a drop with err) or withdrawn after (reported as it settled).
func (e *Engine) Rejected(op *session.Op, err error) {
	if !e.observing() {
		return
	}
	e.flushSettled()
	if op.State() < session.Acked {
		ev := opEvent(EventDrop, op, e.Transport())
		ev.Err = err
		e.cfg.Observe(ev)
	}
}

func opEvent(k EventKind, op *session.Op, tr string) Event {
	return Event{Kind: k, At: time.Now(), Transport: tr, Channel: op.Frame.Channel, Seq: op.Frame.Seq,
		Header: op.Frame.Header, Bytes: len(op.Frame.Data), Latency: op.Took}
}
