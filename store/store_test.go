package store_test

import (
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

func TestApplyFollowsTheRecords(t *testing.T) {
	var s store.State
	for _, r := range []*store.Record{
		{Kind: store.KindAdd, ID: 1, Type: codec.TypePublish, Channel: "c", Data: []byte("a")},
		{Kind: store.KindAdd, ID: 2, Type: codec.TypePublish, Channel: "c", Data: []byte("b")},
		{Kind: store.KindAdd, ID: 3, Type: codec.TypePublish, Channel: "c", Data: []byte("c")},
		{Kind: store.KindNumber, Next: 2, IDs: []uint64{2, 1}, Seqs: []uint64{2, 1}},
		{Kind: store.KindAdd, ID: 2, Type: codec.TypePublish, Channel: "c", Data: []byte("copied forward")},
		{Kind: store.KindSession, Session: "s", Token: "t"},
	} {
		if err := s.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
	if got := opsString(&s); got != "1:a@1 2:b@2 3:c@0" {
		t.Fatalf("ops %s", got)
	}
	// A new session: every operation waits to be numbered anew.
	_ = s.Apply(&store.Record{Kind: store.KindSession, Session: "s2", Token: "t2", Reset: true})
	if got := opsString(&s); got != "1:a@0 2:b@0 3:c@0" || s.Next != 0 {
		t.Fatalf("after reset: ops %s next %d", got, s.Next)
	}
	_ = s.Apply(&store.Record{Kind: store.KindNumber, Next: 2, IDs: []uint64{3, 1}, Seqs: []uint64{1, 2}})
	_ = s.Apply(&store.Record{Kind: store.KindAcked, Seq: 1})
	if got := opsString(&s); got != "1:a@2 2:b@0" {
		t.Fatalf("after ack: ops %s", got)
	}
	// Two operations cannot hold one number: the later record wins.
	_ = s.Apply(&store.Record{Kind: store.KindNumber, Next: 2, IDs: []uint64{2}, Seqs: []uint64{2}})
	if got := opsString(&s); got != "2:b@2 1:a@0" {
		t.Fatalf("after renumbering: ops %s", got)
	}
	s.Keep([]uint64{1}, []uint64{0})
	if got := opsString(&s); got != "1:a@0" {
		t.Fatalf("after a checkpoint: ops %s", got)
	}
	for _, bad := range []*store.Record{{Kind: store.KindAdd}, {Kind: store.KindNumber, IDs: []uint64{1}}, {Kind: 99}} {
		if err := s.Apply(bad); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
}

func opsString(s *store.State) string {
	out := ""
	for _, op := range s.Ops() {
		if out != "" {
			out += " "
		}
		out += fmt.Sprintf("%d:%s@%d", op.ID, op.Data, op.Seq)
	}
	return out
}
