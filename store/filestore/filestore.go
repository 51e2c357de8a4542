// Package filestore is a store.Store in a directory of append-only
// segment files: the durable outbox and session of a Client that must
// survive a crash or a power cut (an IoT agent, say).
//
// Every change is one small record appended to the newest segment, so a
// publish costs its own bytes plus about a dozen, and an acknowledgement
// about a dozen: nothing is ever rewritten in place. When a segment
// reaches Options.SegmentBytes a new one starts with a checkpoint of the
// state, and older segments are deleted once nothing live is left in
// them, or once the live operations they hold (copied forward into the
// new segment) are less than half their size. Disk use stays within
// about twice the live outbox plus two segments.
//
// Records carry a CRC-32C. Open reads every segment; a torn or damaged
// stretch is skipped up to the next intact record, counted in
// store.State.Damage, and the segments that held damage are rewritten
// without it, so it is reported once. Only a directory that cannot be
// read or written at all, or one that another process holds, fails Open,
// with an *OpenError; MoveAside sets such a directory aside so that the
// agent can start afresh.
package filestore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/realtimekit/realtime/store"
)

// Policy says when appended records are made durable: what survives a
// power cut. Every policy writes each record to the operating system
// before Append returns, so none loses anything when only the process
// dies.
type Policy int

const (
	// SyncEvery makes every commit durable before it returns (fsync): a
	// publish whose PublishAsync returned survives a power cut. Commits
	// that meet share one fsync. The default.
	SyncEvery Policy = iota
	// SyncInterval makes records durable every Options.Interval, in the
	// background: a power cut loses at most the last interval's.
	SyncInterval
	// SyncNever leaves it to the operating system (Linux writes dirty
	// pages back within about 30 s) and to Close.
	SyncNever
)

var policyNames = [...]string{"every", "interval", "never"}

// String returns "every", "interval" or "never".
func (p Policy) String() string {
	if p >= 0 && int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// Options configure a Store. A nil *Options and every zero field take
// the documented default.
type Options struct {
	// Sync is the durability policy. Default SyncEvery.
	Sync Policy
	// Interval is SyncInterval's period. Default 50 ms.
	Interval time.Duration
	// SegmentBytes is the size at which a new segment starts. Default
	// 4 MiB.
	SegmentBytes int64
}

// Defaults of Options.
const (
	DefaultInterval     = 50 * time.Millisecond
	DefaultSegmentBytes = 4 << 20
)

// ErrClosed is returned by a Store's methods after Close.
var ErrClosed = errors.New("filestore: closed")

// ErrLocked is wrapped by the OpenError of a directory another Store
// (in this process or another) has open.
var ErrLocked = errors.New("filestore: the directory is in use by another store")

// OpenError is why Open could not open a store's directory at all. The
// documented way out is MoveAside, then Open again: an empty store.
type OpenError struct {
	Dir string
	Err error
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("filestore: cannot open %s (MoveAside sets it aside): %v", e.Dir, e.Err)
}

func (e *OpenError) Unwrap() error { return e.Err }

// Store is a store.Store in a directory. Create it with Open.
type Store struct {
	dir  string
	opts Options
	lock *os.File

	mu      sync.Mutex
	closed  bool
	f       *os.File // the newest segment, appended to
	seg     uint64   // its number
	size    int64    // its length
	segs    []uint64 // every segment, oldest first
	sizes   map[uint64]int64
	damaged map[uint64]bool
	st      store.State    // as the records say, without the contents
	loc     map[uint64]loc // where each operation's Add record is
	buf     []byte
	loaded  *store.State // what Load returns, once
	written uint64       // appends so far
	err     error        // the first write or sync error not reported yet

	syncMu sync.Mutex // one fsync at a time; commits that meet share it
	synced uint64     // appends durable

	stop chan struct{} // ends the SyncInterval goroutine
	wg   sync.WaitGroup
}

// loc is where an operation's Add record is: its segment and framed span.
type loc struct {
	seg    uint64
	off, n int64
}

// Open opens the store in dir, creating dir if need be. It reads every
// segment, cutting what is damaged (see store.State.Damage), and starts a
// new segment. A nil opts takes every default.
func Open(dir string, opts *Options) (*Store, error) {
	s := &Store{dir: dir, damaged: map[uint64]bool{}, loc: map[uint64]loc{}, sizes: map[uint64]int64{}}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Interval <= 0 {
		s.opts.Interval = DefaultInterval
	}
	if s.opts.SegmentBytes <= 0 {
		s.opts.SegmentBytes = DefaultSegmentBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &OpenError{Dir: dir, Err: err}
	}
	lock, err := lockDir(filepath.Join(dir, "LOCK"))
	if err != nil {
		return nil, &OpenError{Dir: dir, Err: err}
	}
	s.lock = lock
	if err := s.load(); err != nil {
		unlockDir(lock)
		return nil, &OpenError{Dir: dir, Err: err}
	}
	s.mu.Lock()
	err = s.reopen()
	s.mu.Unlock()
	if err != nil {
		s.closeFiles()
		return nil, &OpenError{Dir: dir, Err: err}
	}
	if s.opts.Sync == SyncInterval {
		s.stop = make(chan struct{})
		s.wg.Add(1)
		go s.syncEvery()
	}
	return s, nil
}

// segName is the file name of segment n.
func segName(n uint64) string {
	h := strconv.FormatUint(n, 16)
	return strings.Repeat("0", 16-len(h)) + h + ".seg"
}

// segNumber is the number of the segment named name, if it is one.
func segNumber(name string) (uint64, bool) {
	h, ok := strings.CutSuffix(name, ".seg")
	if !ok || len(h) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(h, 16, 64)
	return n, err == nil && segName(n) == name
}

// load reads every segment, oldest first.
func (s *Store) load() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	full := &store.State{}
	channels := map[string]string{} // one string per channel name, not per record
	for _, e := range ents {
		n, ok := segNumber(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		s.segs = append(s.segs, n)
	}
	slices.Sort(s.segs)
	for _, n := range s.segs {
		b, err := os.ReadFile(filepath.Join(s.dir, segName(n)))
		if err != nil {
			return err
		}
		s.sizes[n] = int64(len(b))
		var frames []frame
		var dmg store.Damage
		if !strings.HasPrefix(string(b), header) {
			dmg = store.Damage{Records: 1, Bytes: int64(len(b))}
		} else {
			frames, dmg = scan(b[len(header):], int64(len(header)), channels)
		}
		if dmg.Records > 0 {
			s.damaged[n] = true
			full.Damage.Records += dmg.Records
			full.Damage.Bytes += dmg.Bytes
		}
		for i := range frames {
			r := &frames[i].rec
			if r.Kind == store.KindAdd {
				s.loc[r.ID] = loc{seg: n, off: frames[i].off, n: frames[i].n}
				r.Data = slices.Clone(r.Data) // not the whole file's buffer
			}
			s.apply(full, r)
		}
		s.seg = n
	}
	s.st = *full.WithoutData()
	s.loaded = full
	return nil
}

// reopen carries on appending to the newest segment when every segment
// read whole and it has room; otherwise it starts a new one, which also
// rewrites the damaged segments away. s.mu is held.
func (s *Store) reopen() error {
	if len(s.segs) == 0 || len(s.damaged) > 0 || s.sizes[s.seg] >= s.opts.SegmentBytes {
		return s.roll()
	}
	f, err := os.OpenFile(filepath.Join(s.dir, segName(s.seg)), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	s.f, s.size = f, s.sizes[s.seg]
	return nil
}

// apply applies r to st; a checkpoint is the file store's own kind.
func (s *Store) apply(st *store.State, r *store.Record) {
	if r.Kind != kindCheckpoint {
		_ = st.Apply(r) // a record that makes no sense changes nothing
		return
	}
	st.Keep(r.IDs, r.Seqs)
	st.Session, st.Token, st.Next, st.Processed = r.Session, r.Token, r.Next, r.Seq
	st.LastID = max(st.LastID, r.ID)
}

// Load returns the state Open read, once: a Store serves one Client.
func (s *Store) Load() (*store.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	st := s.loaded
	if st == nil {
		return nil, errors.New("filestore: Load called twice: one Client per Store")
	}
	s.loaded = nil
	return st, nil
}

// Append writes r at the end of the newest segment, starting a new one
// first when it is full.
func (s *Store) Append(r *store.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.size >= s.opts.SegmentBytes {
		if err := s.roll(); err != nil {
			return err
		}
	}
	return s.appendLocked(r)
}

// appendLocked writes r to the newest segment. s.mu is held.
func (s *Store) appendLocked(r *store.Record) error {
	s.buf = appendRecord(s.buf[:0], r)
	off := s.size
	if _, err := s.f.Write(s.buf); err != nil {
		// Whatever part was written is cut, so the next record follows an
		// intact one; if that fails too, Open will cut it.
		_ = s.f.Truncate(off)
		_, _ = s.f.Seek(off, 0)
		return fmt.Errorf("filestore: write: %w", err)
	}
	s.size += int64(len(s.buf))
	s.written++
	if r.Kind == store.KindAdd {
		s.loc[r.ID] = loc{seg: s.seg, off: off, n: int64(len(s.buf))}
	}
	stripped := *r
	stripped.Data = nil
	s.apply(&s.st, &stripped)
	return nil
}

// Commit makes what was appended durable per the policy: with SyncEvery
// it returns once an fsync covered every record appended before the call;
// otherwise it returns at once, with the background sync's error if one
// failed since.
func (s *Store) Commit() error {
	if s.opts.Sync != SyncEvery {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return ErrClosed
		}
		err := s.err
		s.err = nil
		return err
	}
	return s.sync()
}

// sync fsyncs the newest segment if anything appended is not durable yet.
// Callers that meet wait for one fsync: the first does it for all.
func (s *Store) sync() error {
	s.mu.Lock()
	want, closed := s.written, s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.synced >= want {
		return nil
	}
	s.mu.Lock()
	upto, f := s.written, s.f // what the fsync below covers
	s.mu.Unlock()
	// A roll that closed f synced it first, and what it wrote since.
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("filestore: sync: %w", err)
	}
	s.synced = max(s.synced, upto)
	return nil
}

// syncEvery is SyncInterval's goroutine.
func (s *Store) syncEvery() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if err := s.sync(); err != nil && !errors.Is(err, ErrClosed) {
			s.mu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.mu.Unlock()
		}
	}
}

// Close makes everything appended durable, whatever the policy, and
// closes the store. A second Close returns ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.mu.Unlock()
	if s.stop != nil {
		close(s.stop)
		s.wg.Wait()
	}
	err := s.sync()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if cerr := s.closeFiles(); err == nil {
		err = cerr
	}
	return err
}

func (s *Store) closeFiles() error {
	var err error
	if s.f != nil {
		err = s.f.Close()
		s.sizes[s.seg] = s.size
	}
	unlockDir(s.lock)
	return err
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// MoveAside renames dir to a name beside it that says when, so that Open
// on dir starts an empty store; it returns the new name. It is the way
// out of an OpenError: the old directory is kept for a look.
func MoveAside(dir string) (string, error) {
	to := fmt.Sprintf("%s.aside-%s", filepath.Clean(dir), time.Now().UTC().Format("20060102T150405.000000000"))
	if err := os.Rename(dir, to); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("filestore: move aside: %w", err)
	}
	return to, nil
}
