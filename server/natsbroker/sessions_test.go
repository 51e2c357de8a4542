package natsbroker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime/server"
)

func TestSessionStore(t *testing.T) {
	s := startServer(t)
	a := newCluster(t, s.ClientURL(), Options{})
	b := newCluster(t, s.ClientURL(), Options{}) // another node
	ctx := testCtx(t)
	st, other := a.Sessions(), b.Sessions()

	_, err := st.Load(ctx, "S1")
	require.ErrorIs(t, err, server.ErrNoSession)

	rec := &server.SessionRecord{ID: "S1", Owner: "u", Token: "t1", LastIn: 3, Acked: 2, Pos: 9, Subs: []string{"a", "\x01x"}}
	require.NoError(t, st.Create(ctx, rec))
	require.NotZero(t, rec.Version)
	require.ErrorIs(t, st.Create(ctx, &server.SessionRecord{ID: "S1"}), server.ErrSessionMoved, "Create of an existing id")

	got, err := other.Load(ctx, "S1")
	require.NoError(t, err)
	require.Equal(t, rec, got)

	// The other node takes the session over; the first one's version is stale.
	got.Token, got.PrevToken = "t2", "t1"
	require.NoError(t, other.Update(ctx, got))
	require.Greater(t, got.Version, rec.Version)
	stale := *rec
	stale.LastIn = 99
	require.ErrorIs(t, st.Update(ctx, &stale), server.ErrSessionMoved)
	require.ErrorIs(t, st.Delete(ctx, "S1", rec.Version), server.ErrSessionMoved)

	now, err := st.Load(ctx, "S1")
	require.NoError(t, err)
	require.Equal(t, "t2", now.Token)
	require.Equal(t, uint64(3), now.LastIn)

	require.NoError(t, st.Delete(ctx, "S1", now.Version))
	_, err = st.Load(ctx, "S1")
	require.ErrorIs(t, err, server.ErrNoSession)
	require.ErrorIs(t, st.Update(ctx, now), server.ErrNoSession)
	require.ErrorIs(t, st.Update(ctx, &server.SessionRecord{ID: "never", Version: 1}), server.ErrNoSession)

	// An id that is not a valid KV key is encoded, and a deleted id can be created again.
	odd := &server.SessionRecord{ID: "a.b c*>/é"}
	require.NoError(t, st.Create(ctx, odd))
	got, err = other.Load(ctx, odd.ID)
	require.NoError(t, err)
	require.Equal(t, odd.ID, got.ID)
	require.NoError(t, st.Create(ctx, &server.SessionRecord{ID: "S1"}))
}

func TestSessionTTL(t *testing.T) {
	s := startServer(t)
	c := newCluster(t, s.ClientURL(), Options{SessionTTL: time.Second})
	ctx := testCtx(t)
	st := c.Sessions()
	rec := &server.SessionRecord{ID: "E"}
	require.NoError(t, st.Create(ctx, rec))
	waitFor(t, "the record to expire", func() bool {
		_, err := st.Load(ctx, "E")
		return err == server.ErrNoSession
	})
	require.ErrorIs(t, st.Update(ctx, rec), server.ErrNoSession)
}

func TestRecordRoundTrip(t *testing.T) {
	rec := &server.SessionRecord{ID: "x", Owner: "o", Token: "t", PrevToken: "p", LastIn: 1, Acked: 2, Pos: 3, Subs: []string{"", "\xff"}}
	b, err := encodeRecord(rec)
	require.NoError(t, err)
	got, err := decodeRecord(b)
	require.NoError(t, err)
	require.Equal(t, rec.Subs, got.Subs)
	got.Subs = rec.Subs
	require.Equal(t, rec, got)
	for _, bad := range []string{"", "{", "null", `{"v":2,"id":"eA"}`, `{"v":1}`, `{"v":1,"id":"eA","in":-1}`, `{"v":1,"id":"x!"}`, `[1]`} {
		_, err := decodeRecord([]byte(bad))
		require.ErrorIs(t, err, ErrCorruptRecord, bad)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"v":1,"id":"eA","subs":["YQ"]}`))
	f.Add([]byte(`{"v":1,"id":"eA==","in":18446744073709551615}`))
	f.Add([]byte("\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord(b)
		if err != nil {
			return
		}
		again, err := encodeRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeRecord(again); err != nil {
			t.Fatalf("a decoded record does not decode again: %v", err)
		}
	})
}
