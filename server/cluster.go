package server

import (
	"context"
	"errors"
	"time"

	"github.com/realtimekit/realtime/codec"
)

// Several nodes. One Server serves one node. With the default Config a
// node keeps its sessions in memory and shares nothing. To serve one
// application from several nodes behind a load balancer, give every node
// the same Broker, implementing Log, and the same SessionStore and Relay
// (package server/natsbroker provides all three on NATS JetStream): then a
// session, both directions, resumes on any node, and an SSE or long-poll
// connection's requests may land on any node.

// Message is one publication as it crosses a Broker.
type Message struct {
	// Channel is the channel it was published on.
	Channel string
	// Data is the payload. Neither side modifies it once handed over.
	Data []byte
	// ID, when not empty, names the publication for deduplication: a
	// broker that keeps a log stores at most one publication per ID within
	// its deduplication window, however many times it is published. The
	// Server sets it for client publishes from the session and the client's
	// sequence number, so that a publish resent to another node after a
	// failure is stored once. Brokers without a log may ignore it.
	ID string
	// Pos is set by a Log broker on delivery: the publication's position in
	// the log. Positions increase along the log, and a Log broker delivers
	// to one node in position order across all channels. Zero from brokers
	// without a log.
	Pos uint64
	// Time is when the Server accepted the publication, to the
	// millisecond: subscribers see it as the message's timestamp ("ts").
	// A broker carries it; the zero Time sends none.
	Time time.Time
	// From is the publisher's Identity.ID, which subscribers see as the
	// message's "from"; empty for a publish from the backend or an
	// unnamed identity. A broker carries it.
	From string
	// Header is the publisher's header ("h"), nil when none. A broker
	// carries it; neither side modifies it once handed over.
	Header map[string]string
}

// frame is the msg frame that delivers m to a client, not yet numbered.
func (m *Message) frame() codec.Frame {
	f := codec.Frame{Type: codec.TypeMessage, Channel: m.Channel, Data: m.Data, From: m.From, Header: m.Header}
	if !m.Time.IsZero() {
		if ms := m.Time.UnixMilli(); ms > 0 {
			f.Time = uint64(ms)
		}
	}
	return f
}

// Log is implemented by a Broker that keeps its publications in one
// ordered log, across channels, from which a session can be rebuilt on any
// node. A Log broker delivers to each node in position order, one delivery
// at a time across all channels.
type Log interface {
	// Last returns the position of the newest publication in the log, or 0
	// when it is empty.
	Last(ctx context.Context) (uint64, error)
	// Delivered returns the highest position up to which this node's
	// deliveries have all returned, whether or not any subscription of the
	// node wanted them.
	Delivered() uint64
	// Read calls fn, in position order and one call at a time, with each
	// publication on one of channels whose position is above from and at
	// most to, with its Pos and the ID it was published with, until fn
	// returns false. It returns ErrTrimmed when the log no longer holds
	// every publication above from.
	Read(ctx context.Context, from, to uint64, channels []string, fn func(Message) bool) error
}

// SessionRecord is the state of a session that a resume on another node
// needs. The Server writes it before it tells the client anything that
// depends on it: a new resume token, the acknowledgement of a client frame.
type SessionRecord struct {
	// ID is the session id; Owner the Identity.ID that opened it.
	ID, Owner string
	// Token and PrevToken are the resume tokens that are good.
	Token, PrevToken string
	// LastIn is the highest client sequence number processed.
	LastIn uint64
	// Acked is the highest server sequence number the client acknowledged,
	// Pos the log position up to which the frames numbered up to Acked
	// came, and Subs the channels subscribed at Pos: from them and the Log,
	// every frame after Acked is numbered again the same way on any node.
	Acked, Pos uint64
	Subs       []string
	// Version is the store's revision of the record, set by Create, Load
	// and Update: Update and Delete succeed only on the current one.
	Version uint64
}

// SessionStore keeps SessionRecords where every node can reach them. It
// expires a record not written for longer than its own time to live,
// which must exceed the nodes' ResumeWindow (a node rewrites the records
// of its connected sessions within every third of it).
type SessionStore interface {
	// Create stores a new record and sets rec.Version.
	Create(ctx context.Context, rec *SessionRecord) error
	// Load returns the record of session id, or ErrNoSession.
	Load(ctx context.Context, id string) (*SessionRecord, error)
	// Update replaces the record if rec.Version is still the current one,
	// and sets rec.Version to the new one. It returns ErrSessionMoved when
	// another node wrote the record since, and ErrNoSession when it is gone.
	Update(ctx context.Context, rec *SessionRecord) error
	// Delete removes the record if version is still the current one.
	Delete(ctx context.Context, id string, version uint64) error
}

// Relay carries the requests of an SSE or long-poll connection that land
// on another node to the node that holds the connection. Requests and
// answers cross it as HTTP/1.1 messages in wire format.
type Relay interface {
	// Serve makes this node reachable as node: handle is called, on a
	// goroutine of the Relay, with each request forwarded to it, and
	// returns the answer. stop ends it and waits for running handles.
	Serve(node string, handle func(ctx context.Context, req []byte) []byte) (stop func(), err error)
	// Forward sends req to node and returns its answer. It returns
	// ErrNodeGone when no node of that name answers.
	Forward(ctx context.Context, node string, req []byte) ([]byte, error)
}

// Errors of the cluster interfaces.
var (
	// ErrTrimmed is returned by Log.Read when the publications asked for
	// are no longer kept: a session that was away longer than the log keeps
	// cannot resume, and its client is told it lost continuity.
	ErrTrimmed = errors.New("server: log trimmed")
	// ErrNoSession is returned by SessionStore when a record does not exist.
	ErrNoSession = errors.New("server: no such session")
	// ErrSessionMoved is returned by SessionStore.Update and Delete when
	// another node wrote the record since it was read.
	ErrSessionMoved = errors.New("server: session moved to another node")
	// ErrNodeGone is returned by Relay.Forward when the node is not there.
	ErrNodeGone = errors.New("server: node gone")
)

// Health is implemented by a Broker that depends on an engine which can
// become unreachable. While Healthy returns an error the Server refuses
// handshakes with HTTP 503 and Retry-After, and ends connections whose
// state it cannot store with error 1013 (try again later), so that clients
// keep their publishes and come back after their backoff.
type Health interface {
	Healthy() error
}
