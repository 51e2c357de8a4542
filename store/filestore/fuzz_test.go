package filestore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime/store"
)

// FuzzScan feeds arbitrary segment contents to the reader: it never
// panics, accounts for every byte (read or cut), and what it reads
// encodes back to the same bytes.
func FuzzScan(f *testing.F) {
	var seed []byte
	for _, r := range []*store.Record{
		add(1, "hello"),
		{Kind: store.KindAdd, ID: 2, Channel: "c", Data: []byte("d"), Header: map[string]string{"a": "1", "traceparent": "00-x"}},
		{Kind: store.KindNumber, Next: 2, IDs: []uint64{1}, Seqs: []uint64{2}},
		{Kind: store.KindAcked, Seq: 2},
		{Kind: store.KindDone, IDs: []uint64{1, 3}},
		{Kind: store.KindSession, Session: "s", Token: "t", Reset: true},
		{Kind: store.KindProcessed, Seq: 9},
		{Kind: kindCheckpoint, Session: "s", Token: "t", Seq: 1, ID: 3, Next: 2, IDs: []uint64{3}, Seqs: []uint64{0}},
	} {
		seed = appendRecord(seed, r)
		f.Add(appendRecord(nil, r))
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Fuzz(func(t *testing.T, b []byte) {
		frames, dmg := scan(b, 0, nil)
		var n int64
		for _, fr := range frames {
			n += fr.n
			again := appendRecord(nil, &fr.rec)
			require.Equal(t, b[fr.off:fr.off+fr.n], again)
			var st store.State
			_ = st.Apply(&fr.rec) // never panics either
		}
		require.Equal(t, int64(len(b)), n+dmg.Bytes)
	})
}
