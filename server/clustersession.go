package server

import (
	"encoding/binary"
	"maps"
	"slices"
	"time"

	"github.com/realtimekit/realtime/codec"
)

// With a Log broker and a SessionStore (see cluster.go), a session's
// frames towards the client are a function of the log: the publications
// of the channels it subscribes to, and its own events (subscribe,
// unsubscribe, nack) published on a private channel, numbered in position
// order. A subscription takes effect at its event's position, so any node
// that reads the log from a checkpoint (an acknowledged sequence number,
// the position it came from, and the subscriptions there) numbers every
// later frame exactly as the node that first sent it did.

// cluster is what a Server uses when it serves one node of several.
type cluster struct {
	log    Log
	store  SessionStore
	health Health // nil when the Broker does not report one
}

// clusterSession is the part of a session that exists in cluster mode.
// Guarded by session.mu unless said otherwise.
type clusterSession struct {
	private string              // the channel of the session's own events
	active  map[string]struct{} // channels numbered for the client, as of lastPos
	inHub   map[string]struct{} // channels the hub delivers to the session
	lastPos uint64              // position of the last publication applied

	replaying bool      // the session is being rebuilt from the log
	held      []Message // live deliveries held meanwhile

	stored       uint64              // the LastIn the store holds: acks go no further
	pendingNacks map[uint64]struct{} // client seqs whose nack event is not applied yet
	nacked       map[uint64]struct{} // client seqs above stored whose nack was applied

	ck     checkpoint  // the resume point to store next
	subLog []subChange // subscription changes applied after ck.pos

	moved bool // another node took the session: never delete its record

	// Guarded by session.proc.
	doubt        doubt     // publishes another node may have stored
	version      uint64    // the store's revision of the record last written
	wrote        time.Time // when the record was last written
	wAcked, wPos uint64    // the resume point last written
}

type checkpoint struct {
	acked, pos uint64
	subs       map[string]struct{}
}

type subChange struct {
	pos uint64
	ch  string
	add bool
}

// Events on a session's private channel.
const (
	evSubscribe   = 's'
	evUnsubscribe = 'u'
	evNack        = 'n'
)

func privateChannel(id string) string { return "\x00" + id }

func subscribeEvent(kind byte, channel string) []byte {
	return append([]byte{kind}, channel...)
}

func nackEvent(f codec.Frame) []byte {
	b := []byte{evNack}
	b = binary.AppendUvarint(b, f.Ref)
	b = binary.AppendUvarint(b, uint64(f.Code))
	return append(b, f.Reason...)
}

// parseNack reads an event made by nackEvent; ok is false if it is not one.
func parseNack(b []byte) (f codec.Frame, ok bool) {
	if len(b) == 0 || b[0] != evNack {
		return f, false
	}
	ref, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return f, false
	}
	code, m := binary.Uvarint(b[1+n:])
	if m <= 0 || code > 0xffff {
		return f, false
	}
	return codec.Frame{Type: codec.TypeNack, Ref: ref, Code: uint16(code), Reason: string(b[1+n+m:])}, true
}

// newClusterSession starts the cluster state of a session at a resume
// point: nothing after pos has been numbered beyond acked.
func newClusterSession(id string, acked, pos uint64, subs []string) *clusterSession {
	cs := &clusterSession{
		private:      privateChannel(id),
		active:       make(map[string]struct{}, len(subs)),
		inHub:        make(map[string]struct{}),
		lastPos:      pos,
		pendingNacks: make(map[uint64]struct{}),
		nacked:       make(map[uint64]struct{}),
		ck:           checkpoint{acked: acked, pos: pos, subs: make(map[string]struct{}, len(subs))},
	}
	for _, ch := range subs {
		cs.active[ch] = struct{}{}
		cs.ck.subs[ch] = struct{}{}
	}
	return cs
}

// deliverLocked takes a live delivery: held while the session is rebuilt,
// applied otherwise.
func (s *session) deliverLocked(m Message) {
	cs := s.cl
	if cs.replaying {
		if len(cs.held) >= s.srv.cfg.SessionBuffer {
			s.endLocked(4503, "slow consumer: too many unacknowledged messages")
			return
		}
		cs.held = append(cs.held, m)
		return
	}
	s.applyLocked(m)
}

// applyLocked numbers one publication of the log for the client, or acts
// on one of the session's events. Publications at or before lastPos were
// applied already (a rebuild reads some of them twice).
func (s *session) applyLocked(m Message) {
	cs := s.cl
	if m.Pos <= cs.lastPos {
		return
	}
	cs.lastPos = m.Pos
	if m.Channel != cs.private {
		if _, ok := cs.active[m.Channel]; ok {
			s.appendLocked(m.frame(), m.Pos)
		}
		return
	}
	if len(m.Data) == 0 {
		return
	}
	switch m.Data[0] {
	case evSubscribe, evUnsubscribe:
		ch, add := string(m.Data[1:]), m.Data[0] == evSubscribe
		if add {
			cs.active[ch] = struct{}{}
			s.subs[ch] = struct{}{}
		} else {
			delete(cs.active, ch)
			delete(s.subs, ch)
		}
		cs.subLog = append(cs.subLog, subChange{pos: m.Pos, ch: ch, add: add})
	case evNack:
		f, ok := parseNack(m.Data)
		if !ok {
			s.srv.cfg.Logger.Warn("malformed session event ignored")
			return
		}
		delete(cs.pendingNacks, f.Ref)
		if f.Ref > cs.stored {
			cs.nacked[f.Ref] = struct{}{}
		}
		s.appendLocked(f, m.Pos)
	default:
		s.srv.cfg.Logger.Warn("unknown session event ignored")
	}
}

// checkpointLocked moves the resume point to the frame a, the newest the
// client acknowledged, which the caller has not released yet. With
// nothing else kept it moves to everything this node has delivered.
func (s *session) checkpointLocked(a uint64) {
	cs := s.cl
	pos := cs.lastPos
	if a < s.nextOut {
		pos = s.kept.posAt(int(a - s.acked - 1))
	} else if !cs.replaying {
		pos = max(pos, s.srv.cl.log.Delivered())
	}
	if pos < cs.ck.pos {
		return
	}
	i := 0
	for ; i < len(cs.subLog) && cs.subLog[i].pos <= pos; i++ {
		c := cs.subLog[i]
		if c.add {
			cs.ck.subs[c.ch] = struct{}{}
		} else {
			delete(cs.ck.subs, c.ch)
		}
	}
	cs.subLog = slices.Delete(cs.subLog, 0, i)
	cs.ck.acked, cs.ck.pos = a, pos
}

// recordLocked returns the record that describes the session now.
func (s *session) recordLocked() SessionRecord {
	cs := s.cl
	subs := slices.Sorted(maps.Keys(cs.ck.subs))
	return SessionRecord{
		ID: s.id, Owner: s.owner, Token: s.token, PrevToken: s.prevToken,
		LastIn: s.lastIn, Acked: cs.ck.acked, Pos: cs.ck.pos, Subs: subs,
		Version: cs.version,
	}
}

// ackLimitLocked bounds the ack the writer may send: no further than the
// store holds, and short of a refused frame whose nack is not numbered.
func (s *session) ackLimitLocked(a uint64) uint64 {
	cs := s.cl
	a = min(a, cs.stored)
	for ref := range cs.pendingNacks {
		if ref-1 < a {
			a = ref - 1
		}
	}
	return a
}
