package storebench

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/store"
	"github.com/realtimekit/realtime/store/filestore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Both stores give back the same state for the same records: the
// comparison measures two implementations of one thing.
func TestBothStoresKeepTheSameState(t *testing.T) {
	recs := []*store.Record{
		{Kind: store.KindSession, Session: "s", Token: "t"},
		{Kind: store.KindAdd, ID: 1, Type: codec.TypePublish, Channel: "c", Data: []byte("one")},
		{Kind: store.KindAdd, ID: 2, Type: codec.TypePublish, Channel: "c", Data: []byte("two")},
		{Kind: store.KindAdd, ID: 3, Type: codec.TypeSubscribe, Channel: "d"},
		{Kind: store.KindAdd, ID: 4, Type: codec.TypePublish, Channel: "c", Data: []byte("four")},
		{Kind: store.KindNumber, Next: 3, IDs: []uint64{1, 2, 3}, Seqs: []uint64{1, 2, 3}},
		{Kind: store.KindAcked, Seq: 1},
		{Kind: store.KindDone, IDs: []uint64{3}},
		{Kind: store.KindProcessed, Seq: 5},
	}
	for _, k := range []Kind{Segment, BBolt} {
		t.Run(string(k), func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(k, dir, filestore.SyncEvery)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Load(); err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if err := s.Append(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, err = Open(k, dir, filestore.SyncEvery)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			st, err := s.Load()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, op := range st.Ops() {
				got = append(got, string(op.Data)+"@"+string(rune('0'+op.Seq)))
			}
			if strings.Join(got, ",") != "two@2,four@0" || st.Next != 3 || st.Processed != 5 || st.Session != "s" || st.Token != "t" {
				t.Fatalf("state: %v next %d processed %d session %q token %q", got, st.Next, st.Processed, st.Session, st.Token)
			}
		})
	}
}

// The comparison runs end to end, briefly: it proves the harness works
// and asserts no timing.
func TestCompareRuns(t *testing.T) {
	var b strings.Builder
	if err := Compare(&b, 2000, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| bbolt | never |") {
		t.Fatalf("missing rows:\n%s", b.String())
	}
	t.Log("\n" + b.String())
}
