package filestore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime/store"
)

// template writes a store of several segments with a known history and
// returns its directory, the contents of every operation ever added, and
// which of them are live at the end.
func template(t *testing.T) (string, map[uint64]string, map[uint64]bool) {
	t.Helper()
	dir := t.TempDir()
	s, _ := mustOpen(t, dir, &Options{SegmentBytes: 2 << 10, Sync: SyncNever})
	rng := rand.New(rand.NewPCG(1, 2))
	all, want := map[uint64]string{}, map[uint64]bool{}
	var seq uint64
	require.NoError(t, s.Append(&store.Record{Kind: store.KindSession, Session: "sid", Token: "tok"}))
	for i := uint64(1); i <= 150; i++ {
		d := strings.Repeat(string(rune('a'+i%26)), 1+rng.IntN(120))
		require.NoError(t, s.Append(add(i, d)))
		all[i], want[i] = d, true
		if i%3 == 0 {
			seq++
			require.NoError(t, s.Append(&store.Record{Kind: store.KindNumber, Next: seq, IDs: []uint64{i}, Seqs: []uint64{seq}}))
		}
		if i%7 == 0 {
			require.NoError(t, s.Append(&store.Record{Kind: store.KindDone, IDs: []uint64{i}}))
			delete(want, i)
		}
		require.NoError(t, s.Append(&store.Record{Kind: store.KindProcessed, Seq: i}))
	}
	require.NoError(t, s.Close())
	return dir, all, want
}

// TestDamageIsCutAndReportedOnce truncates the store's files at random
// offsets and flips bytes at random places, 100 cases: every case opens
// (within a bound), keeps every live operation whose record is intact,
// invents none and changes none, reports what it cut, and reports nothing
// the next time. An operation that had ended may come back when the
// record that ended it was cut: it is counted.
func TestDamageIsCutAndReportedOnce(t *testing.T) {
	tmpl, all, want := template(t)
	segs, err := filepath.Glob(filepath.Join(tmpl, "*.seg"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(segs), 3, "the template spans several segments")
	rng := rand.New(rand.NewPCG(3, 4))
	var cutRecords, cutBytes, back int
	for c := range 100 {
		dir := filepath.Join(t.TempDir(), "s")
		require.NoError(t, os.CopyFS(dir, os.DirFS(tmpl)))
		victim := filepath.Join(dir, filepath.Base(segs[rng.IntN(len(segs))]))
		b, err := os.ReadFile(victim)
		require.NoError(t, err)
		orig := bytes.Clone(b)
		what := ""
		switch c % 3 {
		case 0: // a torn tail
			at := rng.IntN(len(b))
			b = b[:at]
			what = fmt.Sprintf("truncated at %d of %d", at, len(orig))
		case 1: // bytes flipped
			for range 1 + rng.IntN(4) {
				at := rng.IntN(len(b))
				b[at] ^= byte(1 + rng.IntN(255))
			}
			what = "bytes flipped"
		default: // both
			b = b[:1+rng.IntN(len(b)-1)]
			at := rng.IntN(len(b))
			b[at] ^= 0xFF
			what = "truncated and flipped"
		}
		require.NoError(t, os.WriteFile(victim, b, 0o600))
		// The operations whose Add records the damage did not touch.
		intact := map[uint64]bool{}
		for _, p := range segs {
			pb, err := os.ReadFile(filepath.Join(tmpl, filepath.Base(p)))
			require.NoError(t, err)
			frames, _ := scan(pb[len(header):], int64(len(header)), nil)
			hit := filepath.Base(p) == filepath.Base(victim)
			for _, f := range frames {
				if f.rec.Kind != store.KindAdd {
					continue
				}
				end := f.off + f.n
				if !hit || (end <= int64(len(b)) && bytes.Equal(b[f.off:end], orig[f.off:end]) && bytes.Equal(b[:len(header)], orig[:len(header)])) {
					intact[f.rec.ID] = true
				}
			}
		}

		st := openWithin(t, dir, what)
		require.Positive(t, st.Damage.Records, "case %d (%s): damage not reported", c, what)
		require.Positive(t, st.Damage.Bytes, "case %d (%s)", c, what)
		cutRecords += st.Damage.Records
		cutBytes += int(st.Damage.Bytes)
		got := map[uint64]bool{}
		for _, op := range st.Ops() {
			require.Contains(t, all, op.ID, "case %d (%s): an operation never added", c, what)
			require.Equal(t, all[op.ID], string(op.Data), "case %d (%s): contents changed", c, what)
			got[op.ID] = true
			if !want[op.ID] {
				back++
			}
		}
		for id := range want {
			if intact[id] {
				require.True(t, got[id], "case %d (%s): intact operation %d lost", c, what, id)
			}
		}
		again := openWithin(t, dir, what)
		require.Zero(t, again.Damage, "case %d (%s): damage reported twice", c, what)
		require.Len(t, again.Ops(), len(got), "case %d (%s): the second open differs", c, what)
	}
	t.Logf("100 damaged stores opened: %d damaged stretches, %d bytes cut, %d ended operations back", cutRecords, cutBytes, back)
}

// openWithin opens dir and loads it, failing the test if that takes
// longer than a bound (a loop) or panics.
func openWithin(t *testing.T, dir, what string) *store.State {
	t.Helper()
	type result struct {
		st  *store.State
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Open(dir, nil)
		if err != nil {
			done <- result{err: err}
			return
		}
		st, err := s.Load()
		s.Close()
		done <- result{st, err}
	}()
	select {
	case r := <-done:
		require.NoError(t, r.err, what)
		return r.st
	case <-time.After(scaled(20 * time.Second)):
		t.Fatalf("open of a damaged store (%s) did not end", what)
		return nil
	}
}
