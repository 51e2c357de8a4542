package server

import (
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/realtimekit/realtime/codec"
)

// Lock order, outermost first: session.proc, the hub's locks,
// session.mu, then the leaves Server.mu and conn.mu. Nothing calls a hook
// or the broker while holding session.mu.

// session is the state that survives connections: both sequence spaces,
// the frames kept for the client, and the subscriptions.
type session struct {
	srv   *Server
	id    string
	owner string // the Identity.ID that opened it; only it may resume

	// proc is held while a connection acts on client frames, so that a
	// connection taking the session over sees every frame the previous
	// one processed before it reads lastIn for its hello.
	proc sync.Mutex

	rate   bucket // guarded by proc
	hooked uint64 // highest publish the hooks accepted; guarded by proc

	mu         sync.Mutex
	token      string
	prevToken  string // the token before token, good until the client shows it holds token
	conn       *conn  // the live connection, or nil
	ended      bool
	endCode    uint16
	lastIn     uint64     // highest client sequence number processed
	ackSentMax uint64     // highest ack sent to the client on any connection
	nextOut    uint64     // highest server sequence number assigned
	acked      uint64     // highest server sequence number the client acknowledged
	kept       frameQueue // unacknowledged: kept.at(i).Seq == acked+1+i
	keptBytes  int
	nacks      []nackRef // unacknowledged nacks, by ascending seq
	subs       map[string]struct{}
	cl         *clusterSession // in cluster mode only, see clustersession.go

	// Guarded by Server.mu.
	noResume bool
	expireAt time.Time
	heapIdx  int // index in Server.expiry, or -1
}

type nackRef struct{ seq, ref uint64 }

func newSession(srv *Server, owner string) *session {
	s := &session{
		srv:     srv,
		owner:   owner,
		id:      randomToken(),
		token:   randomToken(),
		subs:    make(map[string]struct{}),
		heapIdx: -1,
	}
	if srv.cl != nil {
		s.cl = newClusterSession(s.id, 0, srv.cl.log.Delivered(), nil)
	}
	return s
}

// deliver keeps a publication for the client. It runs under the hub's
// channel lock, so it never blocks.
func (s *session) deliver(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.ended:
	case s.cl != nil:
		s.deliverLocked(m)
	default:
		s.appendLocked(m.frame(), 0)
	}
}

// pubID names the publication of the client's frame seq for the Broker's
// deduplication.
func (s *session) pubID(seq uint64) string { return s.id + ":" + strconv.FormatUint(seq, 10) }

// appendLocked numbers a sequenced frame and keeps it until acknowledged;
// pos is the log position it came from, in cluster mode.
func (s *session) appendLocked(f codec.Frame, pos uint64) {
	s.nextOut++
	f.Seq = s.nextOut
	s.kept.push(f, pos)
	s.keptBytes += keptSize(&f)
	if f.Type == codec.TypeNack {
		s.nacks = append(s.nacks, nackRef{seq: f.Seq, ref: f.Ref})
	}
	cfg := &s.srv.cfg
	if s.kept.len() > cfg.SessionBuffer || s.keptBytes > cfg.SessionBytes {
		s.endLocked(4503, "slow consumer: too many unacknowledged messages")
		return
	}
	if s.conn != nil {
		s.conn.wakeup()
	}
}

// ackLocked releases the kept frames up to a, which the caller checked is
// not beyond what was sent.
func (s *session) ackLocked(a uint64) {
	// An ended session has already released everything it kept.
	if a <= s.acked || s.ended {
		return
	}
	if s.cl != nil {
		s.checkpointLocked(a)
	}
	dropped, kept := s.kept.drop(int(a - s.acked))
	s.keptBytes -= kept
	if c := s.conn; c != nil {
		// Frames up to a were sent on c, unless c just took the session
		// over (then it has sent nothing yet).
		c.held -= min(c.held, uint64(dropped))
	}
	s.acked = a
	i := sort.Search(len(s.nacks), func(i int) bool { return s.nacks[i].seq > a })
	s.nacks = s.nacks[i:]
	if s.conn != nil {
		s.conn.wakeup() // the window may have opened
	}
}

// end forgets the session and stops its connection, which sends an error
// frame first when code is not zero.
func (s *session) end(code uint16, reason string) {
	s.mu.Lock()
	s.endLocked(code, reason)
	s.mu.Unlock()
}

func (s *session) endLocked(code uint16, reason string) {
	if s.ended {
		return
	}
	s.ended = true
	s.endCode = code
	s.kept.reset()
	s.nacks, s.keptBytes = nil, 0
	s.srv.forget(s)
	if s.conn != nil {
		s.conn.stop(code, reason)
	}
}

// takeSubs empties the subscriptions of an ended session for clean-up.
func (s *session) takeSubs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.subs))
	for ch := range s.subs {
		out = append(out, ch)
	}
	s.subs = nil
	return out
}

// batchBudget bounds the estimated size of one outgoing batch, leaving
// room for estimates that fall short (JSON escapes); an encoding that
// still does not fit is split in two by the writer.
func (s *session) batchBudget() int { return s.srv.cfg.MaxMessage / 2 }

const maxBatchFrames = 512

// collect gathers, for the writer of c, the next frames to send: kept
// frames within the window that c has not sent yet, then an ack if one is
// due. more reports that the window holds further frames. ok is false once
// c no longer carries the session.
func (s *session) collect(c *conn, dst []codec.Frame) (frames []codec.Frame, more, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.conn != c {
		return dst, false, false
	}
	limit := min(s.nextOut, s.acked+Window)
	start := max(c.sent, s.acked) + 1
	budget, used := s.batchBudget(), 0
	// The client's inbox budget: payload bytes sent and not acknowledged.
	// One frame always goes when none is, so a large message passes.
	held := c.held
	frames = dst
	full := false
	for seq := start; seq <= limit && len(frames) < maxBatchFrames; seq++ {
		f := s.kept.at(int(seq - s.acked - 1))
		est := estimate(f)
		if len(frames) > 0 && used+est > budget {
			break
		}
		if c.inbox > 0 && held > 0 && held+uint64(len(f.Data)) > c.inbox {
			full = true // an ack opens it, and wakes the writer
			break
		}
		frames = append(frames, *f)
		used += est
		held += uint64(len(f.Data))
		c.sent = seq
	}
	c.held = held
	more = c.sent < limit && !full

	// The ack must not cover a refused frame whose nack is not sent yet.
	a := s.lastIn
	if s.cl != nil {
		a = s.ackLimitLocked(a)
	}
	i := sort.Search(len(s.nacks), func(i int) bool { return s.nacks[i].seq > c.sent })
	if i < len(s.nacks) && s.nacks[i].ref-1 < a {
		a = s.nacks[i].ref - 1
	}
	// After a resume the client waits for an ack that follows the replay.
	force := c.forceAck && (c.sent >= c.replayTo || !more)
	if a > c.ackSent || force {
		frames = append(frames, codec.Frame{Type: codec.TypeAck, Ack: a})
		c.ackSent = a
		c.forceAck = c.forceAck && !force
		s.ackSentMax = max(s.ackSentMax, a)
	}
	return frames, more, true
}

// estimate guesses a frame's encoded size: base64 for binary payloads,
// plus keys and numbers, and the metadata of a msg. A guess short of an
// escaped header is caught by the writer, which splits a batch that does
// not encode.
func estimate(f *codec.Frame) int {
	n := len(f.Data)*4/3 + len(f.Channel) + len(f.Reason) + 48
	if f.From != "" || f.Header != nil {
		n += len(f.From) + 32
		for k, v := range f.Header {
			n += len(k) + len(v) + 6
		}
	}
	return n
}

// keptSize is what a kept frame counts towards Config.SessionBytes: its
// payload and header bytes.
func keptSize(f *codec.Frame) int {
	n := len(f.Data)
	for k, v := range f.Header {
		n += len(k) + len(v)
	}
	return n
}
