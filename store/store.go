// Package store defines what a Client persists so that a restarted process
// carries on where the last one stopped: the outbox (operations accepted
// and not acknowledged, in order, with the sequence numbers they were sent
// under) and the session (its id and resume token, the client's sequence
// counter, and the highest server sequence number processed).
//
// A Client without a store (Options.Store nil, the default) keeps all of it
// in memory. Package filestore is the file-backed implementation; any other
// implements Store by keeping the records it is given, and State.Apply
// turns them back into the state.
package store

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/realtimekit/realtime/codec"
)

// Store keeps a client's records. A Client calls Append and Commit from
// several goroutines; implementations are safe for concurrent use.
type Store interface {
	// Load returns the state the records describe, as the store holds them
	// now. A Client calls it once, in New; it is an error for two Clients
	// to use one Store.
	Load() (*State, error)
	// Append records r, in order. It returns once r is handed to the
	// operating system, so that a crash of the process does not lose it;
	// whether it survives a power cut is Commit's business.
	Append(r *Record) error
	// Commit makes what was appended durable per the store's policy and
	// reports the first error that prevented it. A Client commits before
	// PublishAsync returns, before it sends a frame numbered since the
	// last commit, before it acknowledges what it processed, and after a
	// hello.
	Commit() error
}

// Kind says what a Record changes.
type Kind uint8

// The kinds of Record.
const (
	// KindAdd adds an operation: ID, Type, Channel, Data.
	KindAdd Kind = iota + 1
	// KindNumber sets the client's sequence counter to Next and gives the
	// operations IDs the sequence numbers Seqs (0: not numbered).
	KindNumber
	// KindAcked ends every numbered operation up to sequence number Seq.
	KindAcked
	// KindDone ends the operations IDs (refused, withdrawn, dropped).
	KindDone
	// KindSession records the session id and resume token. With Reset, the
	// session is a new one: the counters start over and every operation
	// waits to be numbered anew.
	KindSession
	// KindProcessed records that server frames up to Seq were processed.
	KindProcessed
)

// Record is one change to the stored state; Kind says which fields count.
type Record struct {
	Kind    Kind
	ID      uint64
	Type    codec.Type
	Channel string
	Data    []byte
	Header  map[string]string // a publish's headers, with KindAdd
	Seq     uint64
	Next    uint64
	IDs     []uint64
	Seqs    []uint64
	Session string
	Token   string
	Reset   bool
}

// Op is an operation the state holds: accepted, not acknowledged.
type Op struct {
	ID      uint64
	Type    codec.Type
	Channel string
	Data    []byte
	Header  map[string]string
	Seq     uint64 // 0 until numbered
}

// State is what the records describe. The zero State is empty.
type State struct {
	Session, Token string
	// Next is the last sequence number given to a client frame.
	Next uint64
	// Processed is the highest server sequence number processed.
	Processed uint64
	// LastID is the highest operation id seen; new ones must be above it.
	LastID uint64

	ops      map[uint64]*Op
	numbered map[uint64]uint64 // sequence number -> id: the window bounds it

	// Damage is what the store cut when it opened: never part of a record.
	Damage Damage
}

// Damage is what a store found unreadable and cut when it opened.
type Damage struct {
	// Records is the number of places where records were cut, at least
	// one per damaged stretch.
	Records int
	// Bytes is the number of bytes cut.
	Bytes int64
}

// ErrBadRecord is returned by Apply for a record that makes no sense.
var ErrBadRecord = errors.New("store: bad record")

// Apply changes s as r says. A record about an operation s does not hold
// is ignored: it ended in a part of the store that is gone.
func (s *State) Apply(r *Record) error {
	if s.ops == nil {
		s.ops, s.numbered = make(map[uint64]*Op), make(map[uint64]uint64)
	}
	switch r.Kind {
	case KindAdd:
		if r.ID == 0 {
			return fmt.Errorf("%w: operation id 0", ErrBadRecord)
		}
		// Adding an operation held already changes nothing: a store may
		// copy a record forward when it reclaims space.
		if s.ops[r.ID] == nil {
			s.ops[r.ID] = &Op{ID: r.ID, Type: r.Type, Channel: r.Channel, Data: r.Data, Header: r.Header}
		}
		s.LastID = max(s.LastID, r.ID)
	case KindNumber:
		if len(r.IDs) != len(r.Seqs) {
			return fmt.Errorf("%w: %d ids, %d sequence numbers", ErrBadRecord, len(r.IDs), len(r.Seqs))
		}
		s.Next = r.Next
		for i, id := range r.IDs {
			s.number(id, r.Seqs[i])
		}
	case KindAcked:
		for seq, id := range s.numbered {
			if seq <= r.Seq {
				s.drop(id)
			}
		}
	case KindDone:
		for _, id := range r.IDs {
			s.drop(id)
		}
	case KindSession:
		s.Session, s.Token = r.Session, r.Token
		if r.Reset {
			s.Next, s.Processed = 0, 0
			for _, op := range s.ops {
				op.Seq = 0
			}
			clear(s.numbered)
		}
	case KindProcessed:
		s.Processed = max(s.Processed, r.Seq)
	default:
		return fmt.Errorf("%w: kind %d", ErrBadRecord, r.Kind)
	}
	return nil
}

// number gives operation id the sequence number seq (0: none).
func (s *State) number(id, seq uint64) {
	op := s.ops[id]
	if op == nil {
		return
	}
	if op.Seq != 0 && s.numbered[op.Seq] == id {
		delete(s.numbered, op.Seq)
	}
	op.Seq = seq
	if seq != 0 {
		if other := s.ops[s.numbered[seq]]; other != nil && other.ID != id {
			other.Seq = 0 // two operations cannot hold one number
		}
		s.numbered[seq] = id
	}
}

// drop forgets operation id.
func (s *State) drop(id uint64) {
	if op := s.ops[id]; op != nil {
		s.number(id, 0)
		delete(s.ops, id)
	}
}

// Ops returns the operations s holds in the order they are to be sent:
// those already numbered by sequence number, then the others by id.
func (s *State) Ops() []*Op {
	seqs := slices.Sorted(maps.Keys(s.numbered))
	ids := make([]uint64, 0, len(s.ops)-len(seqs))
	for id, op := range s.ops {
		if op.Seq == 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]*Op, 0, len(s.ops))
	for _, seq := range seqs {
		out = append(out, s.ops[s.numbered[seq]])
	}
	for _, id := range ids {
		out = append(out, s.ops[id])
	}
	return out
}

// Keep drops every operation whose id is not in ids, and sets the numbers
// of those kept to seqs: a checkpoint, which says in full which operations
// were live when it was written.
func (s *State) Keep(ids, seqs []uint64) {
	if len(ids) == len(s.ops) && !slices.ContainsFunc(ids, func(id uint64) bool { return s.ops[id] == nil }) {
		for i, id := range ids { // the same operations: only their numbers
			s.number(id, seqs[i])
		}
		return
	}
	old := s.ops
	s.ops, s.numbered = make(map[uint64]*Op, len(ids)), make(map[uint64]uint64)
	for i, id := range ids {
		if op := old[id]; op != nil {
			op.Seq = 0
			s.ops[id] = op
			s.number(id, seqs[i])
		}
	}
}

// WithoutData returns a copy of s whose operations hold no contents: what
// a store keeps to know which operations are live and where.
func (s *State) WithoutData() *State {
	c := *s
	c.ops, c.numbered = make(map[uint64]*Op, len(s.ops)), make(map[uint64]uint64, len(s.numbered))
	for id, op := range s.ops {
		o := *op
		o.Data, o.Header = nil, nil
		c.ops[id] = &o
	}
	for seq, id := range s.numbered {
		c.numbered[seq] = id
	}
	return &c
}

// Len returns the number of operations s holds and their payload bytes.
func (s *State) Len() (n int, bytes int64) {
	for _, op := range s.ops {
		bytes += int64(len(op.Data))
	}
	return len(s.ops), bytes
}
