package session

import (
	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/store"
)

// Journal receives a record of every change to what a store keeps: the
// outbox and the session. It runs under the caller's serialisation, in
// order. An error from it fails Enqueue (the operation is not accepted);
// elsewhere the caller decides, as the change has happened in memory.
type Journal func(*store.Record) error

// SetJournal makes s report its changes to j. Call it before anything is
// queued.
func (s *Session) SetJournal(j Journal) { s.journal = j }

// log hands r to the journal, if any.
func (s *Session) log(r *store.Record) error {
	if s.journal == nil {
		return nil
	}
	return s.journal(r)
}

// done records that ops ended without an acknowledgement.
func (s *Session) done(ops ...*Op) {
	if s.journal == nil || len(ops) == 0 {
		return
	}
	ids := make([]uint64, len(ops))
	for i, op := range ops {
		ids[i] = op.ID
	}
	_ = s.log(&store.Record{Kind: store.KindDone, IDs: ids})
}

// numbered records the sequence counter and the numbers of ops.
func (s *Session) numbered(ops []*Op) {
	if s.journal == nil {
		return
	}
	r := &store.Record{Kind: store.KindNumber, Next: s.nextSeq, IDs: make([]uint64, len(ops)), Seqs: make([]uint64, len(ops))}
	for i, op := range ops {
		r.IDs[i], r.Seqs[i] = op.ID, op.Frame.Seq
	}
	_ = s.log(r)
}

// Restore loads st, a store's state, into a new session: its session id,
// token and counters, and its operations, which have no waiter (their
// Receipts were in the process that made them). Those numbered go first,
// to be sent again under their numbers; the others queue. Restore reports
// whether st holds a session to resume.
func (s *Session) Restore(st *store.State) bool {
	s.ID, s.Token = st.Session, st.Token
	s.nextSeq = st.Next
	s.received, s.processed, s.ackSent = st.Processed, st.Processed, st.Processed
	s.lastID = st.LastID
	for _, o := range st.Ops() {
		op := NewOp(codec.Frame{Type: o.Type, Channel: o.Channel, Data: o.Data, Header: o.Header, Seq: o.Seq})
		op.ID, op.Internal = o.ID, true
		s.bytes += op.size
		if o.Seq != 0 {
			op.state.Store(int32(Sent))
			s.inflight = append(s.inflight, op)
			s.nextSeq = max(s.nextSeq, o.Seq)
		} else {
			s.queue = append(s.queue, op)
		}
	}
	s.restored = s.ID != ""
	return s.restored
}
