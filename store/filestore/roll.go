package filestore

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/realtimekit/realtime/store"
)

// roll starts a new segment: the live operations of the segments worth
// reclaiming copied forward, then a checkpoint of the state. Once that is
// durable, those segments are deleted. s.mu is held.
func (s *Store) roll() error {
	if s.f != nil {
		// Records appended to the old segment must be durable before a
		// checkpoint that sums them up lets older segments go.
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("filestore: sync: %w", err)
		}
		s.sizes[s.seg] = s.size
	}
	ops := s.st.Ops()
	live := map[uint64]int64{}
	for _, op := range ops {
		live[s.loc[op.ID].seg] += s.loc[op.ID].n
	}
	drop := map[uint64]bool{}
	for _, n := range s.segs {
		size := s.sizes[n]
		if s.damaged[n] || live[n] == 0 || live[n]*2 < size || size < s.opts.SegmentBytes/4 {
			drop[n] = true
		}
	}
	next := s.seg + 1
	buf := []byte(header)
	locs := map[uint64]loc{}
	if err := s.copyForward(ops, drop, next, &buf, locs); err != nil {
		return err
	}
	ids, seqs := make([]uint64, len(ops)), make([]uint64, len(ops))
	for i, op := range ops {
		ids[i], seqs[i] = op.ID, op.Seq
	}
	buf = appendRecord(buf, &store.Record{
		Kind: kindCheckpoint, Session: s.st.Session, Token: s.st.Token,
		Seq: s.st.Processed, ID: s.st.LastID, Next: s.st.Next, IDs: ids, Seqs: seqs,
	})
	f, err := os.OpenFile(filepath.Join(s.dir, segName(next)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("filestore: new segment: %w", err)
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("filestore: new segment: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("filestore: sync: %w", err)
	}
	syncDir(s.dir)
	if s.f != nil {
		s.f.Close()
	}
	s.f, s.seg, s.size = f, next, int64(len(buf))
	// Only the live operations' places are kept: the others ended.
	for _, op := range ops {
		if _, ok := locs[op.ID]; !ok {
			locs[op.ID] = s.loc[op.ID]
		}
	}
	s.loc = locs
	kept := s.segs[:0]
	for _, n := range s.segs {
		if !drop[n] {
			kept = append(kept, n)
			continue
		}
		// A segment that stays because it cannot be deleted is read
		// again, harmlessly: what the checkpoint says comes later.
		if os.Remove(filepath.Join(s.dir, segName(n))) != nil {
			kept = append(kept, n)
			continue
		}
		delete(s.sizes, n)
		delete(s.damaged, n)
	}
	s.segs = append(kept, next)
	syncDir(s.dir)
	return nil
}

// copyForward appends to buf the Add records of the live operations that
// sit in segments to drop, read back from their files, and notes where
// they land in segment next.
func (s *Store) copyForward(ops []*store.Op, drop map[uint64]bool, next uint64, buf *[]byte, locs map[uint64]loc) error {
	// Each segment is opened once; the order records are copied in does
	// not matter, as each stands alone.
	files := map[uint64]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, op := range ops {
		l := s.loc[op.ID]
		if !drop[l.seg] {
			continue
		}
		f := files[l.seg]
		if f == nil {
			var err error
			if f, err = os.Open(filepath.Join(s.dir, segName(l.seg))); err != nil {
				return fmt.Errorf("filestore: reclaim: %w", err)
			}
			files[l.seg] = f
		}
		at := int64(len(*buf))
		*buf = append(*buf, make([]byte, l.n)...)
		if _, err := f.ReadAt((*buf)[at:], l.off); err != nil {
			return fmt.Errorf("filestore: reclaim: %w", err)
		}
		locs[op.ID] = loc{seg: next, off: at, n: l.n}
	}
	return nil
}

// syncDir makes the directory's entries durable, best effort: some
// systems cannot sync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
