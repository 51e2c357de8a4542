package realtime

import (
	"time"

	"github.com/realtimekit/realtime/internal/engine"
)

// Observer receives a Client's events, for metrics and tracing (see
// Options.Observer). Observe is called on the goroutine where the event
// happened, never under a lock of the client's, so it may call the
// Client's methods; it must be safe for concurrent use and return
// quickly, because it holds up that goroutine:
//
//   - EventConnect, EventResume, EventTransportChange, EventDisconnect:
//     the connection loop (EventDisconnect on Close: the goroutine that
//     called Close);
//   - EventPublish: the goroutine that called Publish or PublishAsync, before
//     the message is queued, so it comes before the message's outcome;
//   - EventAck, EventNack: the connection's reader;
//   - EventDrop: the goroutine that failed the publish (the caller on a
//     refusal to queue, Close, the connection loop on a lost session);
//   - EventDeliver: the dispatcher, after every subscription had the
//     message.
//
// Every EventPublish is followed by exactly one EventAck, EventNack or
// EventDrop of the same message, unless the client is closed first.
type Observer interface {
	Observe(Event)
}

// ObserverFunc is an Observer that is a function.
type ObserverFunc func(Event)

// Observe calls f(e).
func (f ObserverFunc) Observe(e Event) { f(e) }

// EventKind says what an Event reports.
type EventKind uint8

// The kinds of Event.
const (
	// EventConnect: a connection was established, the first or one whose
	// session the server did not resume (Reason says so). Latency: from
	// the state before (connecting, reconnecting) to connected.
	EventConnect EventKind = iota + 1
	// EventDisconnect: the connection ended: lost (Err), or Close.
	// Latency: how long it was connected.
	EventDisconnect
	// EventTransportChange: the live session moved onto a better
	// Transport. Latency: how long the session ran on the one before.
	EventTransportChange
	// EventResume: a reconnect resumed the session. Latency: from the
	// state change before it (the last attempt's start, or the loss).
	EventResume
	// EventPublish: a publish is about to be queued. Latency is zero.
	EventPublish
	// EventAck: the server acknowledged a publish. Latency: from the
	// publish to the ack.
	EventAck
	// EventNack: the server refused a publish (Err, a *RefusedError).
	// Latency: from the publish to the refusal.
	EventNack
	// EventDrop: a publish failed without the server's answer (Err:
	// ErrOutboxFull, ErrSessionLost, ErrClosed, ...). Latency: from the
	// publish to the failure.
	EventDrop
	// EventDeliver: a message was handed to the subscriptions of its
	// channel (once per message, however many). Latency: until every
	// handler returned and every iterator's loop body moved on.
	EventDeliver
)

var eventKindNames = [...]string{"", "connect", "disconnect", "transport change", "resume", "publish", "ack", "nack", "drop", "deliver"}

// String returns the kind's name, such as "ack".
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && k != 0 {
		return eventKindNames[k]
	}
	return "unknown"
}

// Event is one thing that happened to a Client. Fields that do not apply
// to its Kind are zero. It carries no token, URL or connection id.
type Event struct {
	Kind EventKind
	At   time.Time // when it happened (connection events) or was reported
	// Transport is the transport in use ("websocket", "sse", "longpoll"),
	// "" when none.
	Transport string
	// Reason says why, for connection events, as StateChange.Reason.
	Reason string
	// Channel, Seq, Header and Bytes describe the message of a publish,
	// ack, nack, drop or deliver event: its channel, its sequence number
	// in its session (zero for EventPublish, not numbered yet), its header
	// (read-only: the client's own copy, which a tracing adapter reads a
	// traceparent from) and its payload bytes.
	Channel string
	Seq     uint64
	Header  map[string]string
	Bytes   int
	// Latency is the event's duration; each Kind says what it measures.
	Latency time.Duration
	// Err is the cause of a disconnect, nack or drop.
	Err error
}

// observe returns the engine's hook for o; nil for nil, which costs the
// engine nothing.
func observe(o Observer) func(engine.Event) {
	if o == nil {
		return nil
	}
	return func(e engine.Event) {
		o.Observe(Event{Kind: EventKind(e.Kind), At: e.At, Transport: e.Transport, Reason: e.Reason,
			Channel: e.Channel, Seq: e.Seq, Header: e.Header, Bytes: e.Bytes, Latency: e.Latency, Err: publicErr(e.Err)})
	}
}

// delivering returns when a handler starts, for its EventDeliver; the zero
// Time when nobody observes.
func (c *Client) delivering() time.Time {
	if c.obs == nil {
		return time.Time{}
	}
	return time.Now()
}

// delivered reports m's EventDeliver, its handler started at start.
func (c *Client) delivered(m *engine.Message, start time.Time) {
	if c.obs == nil {
		return
	}
	now := time.Now()
	c.obs.Observe(Event{Kind: EventDeliver, At: now, Transport: c.eng.Transport(), Channel: m.Channel, Seq: m.Seq,
		Header: m.Header, Bytes: len(m.Data), Latency: now.Sub(start)})
}
