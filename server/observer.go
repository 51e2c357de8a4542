package server

import "time"

// Observer receives a Server's events, for metrics and tracing
// (Config.Observer). Observe is called on the goroutine of the connection
// the event belongs to, never under a lock of the server's; it must be
// safe for concurrent use and return quickly, as it holds up that
// connection:
//
//   - EventConnect and EventDisconnect: the connection's own goroutine;
//   - EventPublish, EventSubscribe, EventUnsubscribe: its reader, once the
//     frame was acted on (hooks, broker) and before it is acknowledged;
//   - EventSend: its writer, once a message went out.
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
	// EventConnect: a connection carries a session (Resumed says whether
	// it was resumed). Latency: from the connection's start to its hello.
	EventConnect EventKind = iota + 1
	// EventDisconnect: a connection that carried a session ended; the
	// session may live on for its resume window. Latency: how long it was
	// connected.
	EventDisconnect
	// EventPublish: a client's publish was acted on: Channel, Bytes (the
	// payload), Header; Code is the refusal's (0: accepted). Latency: the
	// hooks and the broker's publish.
	EventPublish
	// EventSubscribe and EventUnsubscribe: as EventPublish, for a
	// subscription.
	EventSubscribe
	EventUnsubscribe
	// EventSend: a message of Frames frames and Bytes encoded bytes went
	// out on the connection. Latency: the send.
	EventSend
)

var eventKindNames = [...]string{"", "connect", "disconnect", "publish", "subscribe", "unsubscribe", "send"}

// String returns the kind's name, such as "publish".
func (k EventKind) String() string {
	if k != 0 && int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return "unknown"
}

// Event is one thing that happened on a Server; Kind says which fields
// are set.
type Event struct {
	Kind EventKind
	// Client is the connection's client: its identity, session and
	// transport. Do not keep it past Observe.
	Client  *Client
	Resumed bool
	Channel string
	Bytes   int
	Frames  int
	Header  map[string]string // a publish's; nil when none
	Code    uint16            // a refusal's code; 0 when accepted
	Latency time.Duration
}

// observe hands e to the observer, when there is one.
func (srv *Server) observe(e Event) {
	if o := srv.cfg.Observer; o != nil {
		o.Observe(e)
	}
}
