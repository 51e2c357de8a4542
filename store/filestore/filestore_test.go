package filestore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/store"
)

func add(id uint64, data string) *store.Record {
	return &store.Record{Kind: store.KindAdd, ID: id, Type: codec.TypePublish, Channel: "ch", Data: []byte(data)}
}

func mustOpen(t *testing.T, dir string, o *Options) (*Store, *store.State) {
	t.Helper()
	s, err := Open(dir, o)
	require.NoError(t, err)
	st, err := s.Load()
	require.NoError(t, err)
	return s, st
}

func ids(st *store.State) (out []uint64) {
	for _, op := range st.Ops() {
		out = append(out, op.ID)
	}
	return out
}

func TestReopenGivesBackTheState(t *testing.T) {
	dir := t.TempDir()
	s, st := mustOpen(t, dir, nil)
	require.Empty(t, st.Ops())
	for i := uint64(1); i <= 5; i++ {
		require.NoError(t, s.Append(add(i, fmt.Sprint("m", i))))
	}
	require.NoError(t, s.Append(&store.Record{Kind: store.KindSession, Session: "sid", Token: "tok"}))
	require.NoError(t, s.Append(&store.Record{Kind: store.KindNumber, Next: 3, IDs: []uint64{1, 2, 3}, Seqs: []uint64{1, 2, 3}}))
	require.NoError(t, s.Append(&store.Record{Kind: store.KindAcked, Seq: 1}))
	require.NoError(t, s.Append(&store.Record{Kind: store.KindDone, IDs: []uint64{4}}))
	require.NoError(t, s.Append(&store.Record{Kind: store.KindProcessed, Seq: 7}))
	require.NoError(t, s.Commit())
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Close(), ErrClosed)

	s, st = mustOpen(t, dir, nil)
	defer s.Close()
	require.Equal(t, []uint64{2, 3, 5}, ids(st))
	ops := st.Ops()
	require.Equal(t, uint64(2), ops[0].Seq)
	require.Equal(t, "m2", string(ops[0].Data))
	require.Zero(t, ops[2].Seq)
	require.Equal(t, "sid", st.Session)
	require.Equal(t, "tok", st.Token)
	require.Equal(t, uint64(3), st.Next)
	require.Equal(t, uint64(7), st.Processed)
	require.Equal(t, uint64(5), st.LastID)
	require.Zero(t, st.Damage)
}

func TestSecondOpenOfOneDirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustOpen(t, dir, nil)
	_, err := Open(dir, nil)
	var oe *OpenError
	require.ErrorAs(t, err, &oe)
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, s.Close())
	s, _ = mustOpen(t, dir, nil)
	require.NoError(t, s.Close())
}

func TestUnopenableDirectoryIsATypedErrorAndMovesAside(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "store")
	require.NoError(t, os.WriteFile(dir, []byte("not a directory"), 0o600))
	_, err := Open(dir, nil)
	var oe *OpenError
	require.ErrorAs(t, err, &oe)
	aside, err := MoveAside(dir)
	require.NoError(t, err)
	require.FileExists(t, aside)
	s, st := mustOpen(t, dir, nil)
	require.Empty(t, st.Ops())
	require.NoError(t, s.Close())
}

// Space is reclaimed as operations end: disk use follows the live outbox,
// not the history.
func TestSpaceIsReclaimedAsAcknowledgementsArrive(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustOpen(t, dir, &Options{SegmentBytes: 16 << 10, Sync: SyncNever})
	data := string(bytes.Repeat([]byte("x"), 200))
	var seq uint64
	for i := uint64(1); i <= 5000; i++ {
		require.NoError(t, s.Append(add(i, data)))
		seq++
		require.NoError(t, s.Append(&store.Record{Kind: store.KindNumber, Next: seq, IDs: []uint64{i}, Seqs: []uint64{seq}}))
		if i > 10 { // ten stay in flight
			require.NoError(t, s.Append(&store.Record{Kind: store.KindAcked, Seq: seq - 10}))
		}
	}
	// One old operation that is never acknowledged is copied forward, not
	// left to pin its segment.
	require.Less(t, dirSize(t, dir), int64(4*(16<<10)), "5000 x 200 B written, 10 live")
	require.NoError(t, s.Close())
	s, st := mustOpen(t, dir, nil)
	defer s.Close()
	require.Len(t, st.Ops(), 10)
	require.Equal(t, uint64(4991), st.Ops()[0].ID)
	require.Equal(t, uint64(5000), st.Next)
}

func TestACheckpointForgetsWhatEndedInDeletedSegments(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustOpen(t, dir, &Options{SegmentBytes: 1 << 10, Sync: SyncNever})
	require.NoError(t, s.Append(add(1, "keep me")))
	big := string(bytes.Repeat([]byte("y"), 300))
	for i := uint64(2); i < 40; i++ {
		require.NoError(t, s.Append(add(i, big)))
		require.NoError(t, s.Append(&store.Record{Kind: store.KindDone, IDs: []uint64{i}}))
	}
	require.NoError(t, s.Close())
	s, st := mustOpen(t, dir, nil)
	defer s.Close()
	require.Equal(t, []uint64{1}, ids(st))
	require.Equal(t, "keep me", string(st.Ops()[0].Data))
}

func TestEveryPolicyKeepsWhatWasAppended(t *testing.T) {
	for _, p := range []Policy{SyncEvery, SyncInterval, SyncNever} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			dir := t.TempDir()
			s, _ := mustOpen(t, dir, &Options{Sync: p})
			for i := uint64(1); i <= 100; i++ {
				require.NoError(t, s.Append(add(i, "d")))
				require.NoError(t, s.Commit())
			}
			require.NoError(t, s.Close())
			require.ErrorIs(t, s.Append(add(101, "d")), ErrClosed)
			require.ErrorIs(t, s.Commit(), ErrClosed)
			s, st := mustOpen(t, dir, nil)
			defer s.Close()
			require.Len(t, st.Ops(), 100)
		})
	}
}

func TestLoadServesOneClient(t *testing.T) {
	s, _ := mustOpen(t, t.TempDir(), nil)
	defer s.Close()
	_, err := s.Load()
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrClosed))
}

func dirSize(t *testing.T, dir string) (n int64) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		fi, err := e.Info()
		require.NoError(t, err)
		n += fi.Size()
	}
	return n
}
