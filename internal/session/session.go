// Package session is the client's reliability engine: sequence numbers, the
// outbox of operations awaiting acknowledgement, the inbound sequence check,
// acknowledgements and resume. It does no I/O and starts no goroutine; the
// client drives it under its own lock. docs/PROTOCOL.md §4–5 are the rules.
package session

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/protocol"
	"github.com/realtimekit/realtime/store"
)

// Window is the protocol's limit on unacknowledged sequenced frames in
// flight towards a peer.
const Window = protocol.Window

// ErrOutboxFull is returned by Enqueue when the outbox is at its count or
// byte limit, and fails a publish dropped to make room.
var ErrOutboxFull = errors.New("outbox full")

// ErrSessionLost fails the unacknowledged operations of a session the server
// did not resume.
var ErrSessionLost = errors.New("session lost: the server did not resume it")

// ProtocolError reports a server that broke the protocol's sequencing rules.
type ProtocolError struct{ Reason string }

func (e *ProtocolError) Error() string { return "protocol violation: " + e.Reason }

// RefusedError is a server's nack of one operation.
type RefusedError struct {
	Code   uint16
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused by the server: %s (code %d)", e.Reason, e.Code)
}

// Limits bound the outbox. Zero fields are unlimited only where stated.
type Limits struct {
	Count int // operations queued or in flight; must be > 0
	Bytes int // payload and channel bytes queued or in flight; must be > 0
	// InboxBytes is the budget announced in connect: the most payload
	// bytes of server frames held unacknowledged (see Hold). Zero: none.
	InboxBytes int
}

// Session is the state of one client session and its outbox. It is not
// safe for concurrent use: the caller serialises every call.
type Session struct {
	ID, Token string
	// Epoch counts sessions; deliveries of an older epoch are stale.
	Epoch uint64

	limits   Limits
	queue    []*Op // not sent yet, in order
	inflight []*Op // sent, ascending Seq, not acknowledged
	resend   int   // index into inflight of the next frame to send on this connection
	nextSeq  uint64
	bytes    int

	// Count is what the session has done, for the client's Stats.
	Count Counters

	received  uint64 // highest server sequence number taken in
	processed uint64 // highest server sequence number processed
	ackSent   uint64 // highest processed value acknowledged to the server
	connLast  uint64 // highest sequence number seen on the current connection

	held      []held // server frames the server may count against the inbox budget
	heldBytes int

	journal  Journal // nil: nothing is stored
	lastID   uint64  // the last operation id given, when stored
	restored bool    // the session came from a store and has not met a hello yet
}

// New returns an empty session with the given outbox limits.
func New(l Limits) *Session { return &Session{limits: l, Epoch: 1} }

// Len returns the number of operations queued or in flight, and their bytes.
func (s *Session) Len() (count, bytes int) { return len(s.queue) + len(s.inflight), s.bytes }

// Enqueue adds op to the outbox, or returns ErrOutboxFull. With
// dropOldest, it first fails the oldest unsent publishes with ErrOutboxFull
// to make room; sent operations hold their room until acknowledged, and
// subscriptions are never dropped.
func (s *Session) Enqueue(op *Op, dropOldest bool) error {
	for dropOldest && !s.fits(op) {
		i := slices.IndexFunc(s.queue, func(q *Op) bool { return q.Frame.Type == codec.TypePublish })
		if i < 0 {
			break
		}
		old := s.queue[i]
		s.queue = slices.Delete(s.queue, i, i+1)
		s.bytes -= old.size
		s.settle(old, Failed, ErrOutboxFull)
		s.done(old)
	}
	if !s.fits(op) {
		return ErrOutboxFull
	}
	if err := s.add(op); err != nil {
		return err
	}
	s.queue = append(s.queue, op)
	s.bytes += op.size
	return nil
}

// add gives op an id and records it, when the session is stored.
func (s *Session) add(op *Op) error {
	if s.journal == nil {
		return nil
	}
	s.lastID++
	op.ID = s.lastID
	f := &op.Frame
	return s.log(&store.Record{Kind: store.KindAdd, ID: op.ID, Type: f.Type, Channel: f.Channel, Data: f.Data, Header: f.Header})
}

func (s *Session) fits(op *Op) bool {
	n, b := s.Len()
	return n+1 <= s.limits.Count && b+op.size <= s.limits.Bytes
}

// Withdraw removes op if it has not been sent, failing it with err; it
// reports whether it did. A sent op stays: its sequence number is spent.
func (s *Session) Withdraw(op *Op, err error) bool {
	for i, q := range s.queue {
		if q == op {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			s.bytes -= op.size
			s.settle(op, Failed, err)
			s.done(op)
			return true
		}
	}
	return false
}

// Pending reports whether Fill would return a frame now.
func (s *Session) Pending() bool {
	return s.resend < len(s.inflight) || (len(s.queue) > 0 && len(s.inflight) < Window)
}

// Fill appends to dst the frames to send next: first what this connection
// must resend, then queued operations (numbered now) while the window
// allows, stopping once about budget bytes are taken.
func (s *Session) Fill(dst []codec.Frame, budget int) []codec.Frame {
	used := 0
	for s.resend < len(s.inflight) && used < budget {
		op := s.inflight[s.resend]
		s.Count.Resent++
		dst = append(dst, op.Frame)
		used += op.size + frameOverhead
		s.resend++
	}
	first := len(s.inflight)
	defer func() {
		if len(s.inflight) > first {
			s.numbered(s.inflight[first:])
		}
	}()
	for len(s.queue) > 0 && len(s.inflight) < Window && used < budget {
		op := s.queue[0]
		if used > 0 && used+op.size+frameOverhead > budget {
			break
		}
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.nextSeq++
		op.Frame.Seq = s.nextSeq
		op.state.Store(int32(Sent))
		s.Count.Sent++
		s.inflight = append(s.inflight, op)
		s.resend++
		dst = append(dst, op.Frame)
		used += op.size + frameOverhead
	}
	return dst
}

// frameOverhead approximates the encoding cost of a frame beyond its
// payload and channel, to keep a batch under the message size limit.
const frameOverhead = 64

// Ack applies the server's cumulative acknowledgement a: every operation
// in flight up to a that was not refused has succeeded.
func (s *Session) Ack(a uint64) error {
	if a > s.nextSeq {
		return &ProtocolError{Reason: fmt.Sprintf("ack %d for sequence numbers never sent (last sent %d)", a, s.nextSeq)}
	}
	i := 0
	for i < len(s.inflight) && s.inflight[i].Frame.Seq <= a {
		op := s.inflight[i]
		s.bytes -= op.size
		s.settle(op, Acked, nil)
		s.inflight[i] = nil
		i++
	}
	s.inflight = s.inflight[i:]
	s.resend = max(s.resend-i, 0)
	if i > 0 && s.journal != nil {
		_ = s.log(&store.Record{Kind: store.KindAcked, Seq: a})
	}
	return nil
}

// Nack fails the in-flight operation with sequence number ref.
func (s *Session) Nack(ref uint64, code uint16, reason string) error {
	for i, op := range s.inflight {
		if op.Frame.Seq == ref {
			s.inflight = append(s.inflight[:i], s.inflight[i+1:]...)
			if i < s.resend {
				s.resend--
			}
			s.bytes -= op.size
			s.settle(op, Refused, &RefusedError{Code: code, Reason: reason})
			s.done(op)
			return nil
		}
	}
	if ref > s.nextSeq || ref == 0 {
		return &ProtocolError{Reason: fmt.Sprintf("nack of sequence number %d never sent", ref)}
	}
	return nil // already settled: a nack replayed after resume
}

// Inbound checks the sequence number of a sequenced server frame. It
// returns true when the frame is new and must be processed, false for a
// duplicate to drop, and a *ProtocolError for a gap, a number that does not
// increase on this connection, or a server outrunning the window.
func (s *Session) Inbound(seq uint64) (bool, error) {
	if seq == 0 || seq <= s.connLast {
		return false, &ProtocolError{Reason: fmt.Sprintf("sequence number %d after %d on the same connection", seq, s.connLast)}
	}
	s.connLast = seq
	if seq <= s.received {
		s.Count.Duplicates++
		return false, nil
	}
	if seq > s.received+1 {
		return false, &ProtocolError{Reason: fmt.Sprintf("sequence gap: %d after %d", seq, s.received)}
	}
	if s.received-s.processed >= Window {
		return false, &ProtocolError{Reason: fmt.Sprintf("server exceeded the window of %d unacknowledged frames", Window)}
	}
	s.received = seq
	return true, nil
}

// Processed records that server frame seq of epoch has been processed (its
// handler returned). Stale epochs are ignored. It returns the number of
// processed frames not yet acknowledged.
func (s *Session) Processed(epoch, seq uint64) uint64 {
	if epoch == s.Epoch && seq > s.processed {
		s.processed = seq
		if s.journal != nil {
			_ = s.log(&store.Record{Kind: store.KindProcessed, Seq: seq})
		}
	}
	return s.processed - s.ackSent
}

// Unacked returns the number of processed server frames not acknowledged.
func (s *Session) Unacked() uint64 { return s.processed - s.ackSent }

// AckDue returns the acknowledgement to send, if one is due.
func (s *Session) AckDue() (uint64, bool) { return s.processed, s.processed > s.ackSent }

// AckSent records that an acknowledgement of a was sent.
func (s *Session) AckSent(a uint64) {
	s.ackSent = max(s.ackSent, a)
	s.release(a)
}

// Connect returns the connect frame for a new connection and resets the
// per-connection state: NewConnection, then ConnectFrame.
func (s *Session) Connect() codec.Frame {
	s.NewConnection()
	return s.ConnectFrame()
}

// NewConnection resets the per-connection state: nothing is sent or
// received on the next connection yet. Call it once the previous
// connection's reader and writer are done.
func (s *Session) NewConnection() {
	s.connLast = 0
	s.resend = 0
}

// ConnectFrame returns the connect frame that opens or resumes the session
// on a new connection. It changes nothing, so a probe may build one while
// the current connection carries on.
func (s *Session) ConnectFrame() codec.Frame {
	return codec.Frame{Type: codec.TypeConnect, Version: codec.Version, Session: s.ID, Token: s.Token, Ack: s.processed, InboxBytes: uint64(max(s.limits.InboxBytes, 0))}
}

// Hello applies the server's hello. It reports whether the session
// continued; when it did not, the old session's state is dropped: in-flight
// subscribe and unsubscribe operations, and publishes too when resend is
// true, go back to the front of the queue to be numbered anew; other
// publishes fail with ErrSessionLost.
func (s *Session) Hello(h codec.Frame, resend bool) (continued bool, err error) {
	wasNew := s.ID == ""
	restored := s.restored
	s.restored = false
	s.ID, s.Token = h.Session, h.Token
	// The previous link's reader is done; this link's numbering starts here.
	s.connLast = 0
	// The server counts, on the new connection, what follows the ack in
	// connect; a new session starts with nothing held.
	s.release(s.processed)
	if h.Resumed && !wasNew {
		if h.Ack > s.nextSeq {
			if !restored {
				return true, &ProtocolError{Reason: fmt.Sprintf("hello acknowledges %d, beyond the last sent %d", h.Ack, s.nextSeq)}
			}
			// A store that lost its last records (a power cut under a
			// policy that does not sync every commit): the server took
			// numbers the store forgot. Numbering goes on after them.
			s.nextSeq = h.Ack
			s.Count.StoreBehind++
		}
		for s.resend < len(s.inflight) && s.inflight[s.resend].Frame.Seq <= h.Ack {
			s.resend++
		}
		_ = s.log(&store.Record{Kind: store.KindSession, Session: s.ID, Token: s.Token})
		return true, nil
	}
	if wasNew && len(s.inflight) == 0 {
		_ = s.log(&store.Record{Kind: store.KindSession, Session: s.ID, Token: s.Token, Reset: true})
		return true, nil
	}
	var back, failed []*Op
	for _, op := range s.inflight {
		// A publish that came back from a store has no Receipt to fail:
		// it is sent again, as a new one.
		if op.Frame.Type != codec.TypePublish || resend || op.Internal {
			op.Frame.Seq = 0
			op.state.Store(int32(Queued))
			back = append(back, op)
			continue
		}
		s.bytes -= op.size
		s.settle(op, Failed, ErrSessionLost)
		failed = append(failed, op)
	}
	s.queue = append(back, s.queue...)
	s.inflight = nil
	s.resend, s.nextSeq = 0, 0
	s.received, s.processed, s.ackSent, s.connLast = 0, 0, 0, 0
	s.held, s.heldBytes = nil, 0
	s.Epoch++
	_ = s.log(&store.Record{Kind: store.KindSession, Session: s.ID, Token: s.Token, Reset: true})
	s.done(failed...)
	return wasNew, nil
}

// SentUnacked returns the number of frames sent on the current connection
// and not acknowledged yet.
func (s *Session) SentUnacked() int { return s.resend }

// NextSeq returns the sequence number the next new frame will take.
func (s *Session) NextSeq() uint64 { return s.nextSeq + 1 }

// Rewind fails the publish numbered seq with err and gives every frame
// numbered after it back to the front of the queue, unnumbered: the
// writer calls it for a frame it could not encode, before sending it or
// anything after it. seq must not have been sent on any connection. It
// reports false, changing nothing, when seq is not an in-flight publish.
func (s *Session) Rewind(seq uint64, err error) bool {
	i := slices.IndexFunc(s.inflight, func(op *Op) bool { return op.Frame.Seq == seq })
	if i < 0 || s.inflight[i].Frame.Type != codec.TypePublish {
		return false
	}
	op := s.inflight[i]
	back := slices.Clone(s.inflight[i+1:])
	for _, b := range back {
		b.Frame.Seq = 0
		b.state.Store(int32(Queued))
	}
	clear(s.inflight[i:])
	s.inflight = s.inflight[:i]
	s.queue = append(back, s.queue...)
	s.nextSeq = seq - 1
	s.resend = min(s.resend, i)
	s.Count.Sent -= uint64(len(back)) + 1
	s.bytes -= op.size
	s.settle(op, Failed, err)
	s.done(op)
	s.numbered(back) // numbered no more, and the counter back
	return true
}

// Requeue puts op at the front of the queue whatever the limits (used for
// re-subscriptions, which must precede everything else).
func (s *Session) Requeue(ops ...*Op) {
	for _, op := range ops {
		s.bytes += op.size
		_ = s.add(op) // a store that fails here leaves it to the application to subscribe again
	}
	s.queue = append(append([]*Op(nil), ops...), s.queue...)
}

// FailAll fails every queued and in-flight operation with err.
func (s *Session) FailAll(err error) {
	for _, op := range s.inflight {
		s.settle(op, Failed, err)
	}
	for _, op := range s.queue {
		s.settle(op, Failed, err)
	}
	s.inflight, s.queue, s.bytes, s.resend = nil, nil, 0, 0
}

// Counters count what a session did to its operations. Only publishes are
// counted in Acked, Refused and Failed.
type Counters struct {
	Sent, Resent, Acked, Refused, Failed, Duplicates uint64
	// StoreBehind counts resumes where the server had taken client
	// sequence numbers the store had lost (a power cut under a lax sync
	// policy): what the store renumbers may reach the server twice.
	StoreBehind uint64
	// AckLatency counts acknowledged publishes by time from enqueue to
	// ack: bucket i holds those at most LatencyBuckets[i], the last one the
	// rest.
	AckLatency [len(LatencyBuckets) + 1]uint64
}

// LatencyBuckets are the upper bounds of Counters.AckLatency's buckets.
var LatencyBuckets = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second,
}

// settle ends op and counts it.
func (s *Session) settle(op *Op, st OpState, err error) {
	if op.State() >= Acked {
		return
	}
	op.finish(st, err)
	if op.Frame.Type != codec.TypePublish {
		return
	}
	switch st {
	case Acked:
		s.Count.Acked++
		d := time.Since(op.start)
		i := 0
		for i < len(LatencyBuckets) && d > LatencyBuckets[i] {
			i++
		}
		s.Count.AckLatency[i]++
	case Refused:
		s.Count.Refused++
	default:
		s.Count.Failed++
	}
}
