package session

import (
	"testing"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/store"
)

// A session restored from a store that lost its last records (a power cut
// under a lax sync policy) meets a server that took numbers it forgot: it
// numbers on after them and counts it, rather than failing every resume.
func TestRestoredSessionBehindTheServerNumbersOn(t *testing.T) {
	var st store.State
	for _, r := range []*store.Record{
		{Kind: store.KindSession, Session: "s", Token: "t"},
		{Kind: store.KindAdd, ID: 1, Type: codec.TypePublish, Channel: "c", Data: []byte("a")},
		{Kind: store.KindAdd, ID: 2, Type: codec.TypePublish, Channel: "c", Data: []byte("b")},
		{Kind: store.KindNumber, Next: 3, IDs: []uint64{1}, Seqs: []uint64{3}},
		{Kind: store.KindProcessed, Seq: 7},
	} {
		if err := st.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
	s := New(Limits{Count: 10, Bytes: 100})
	if !s.Restore(&st) {
		t.Fatal("no session restored")
	}
	if f := s.ConnectFrame(); f.Session != "s" || f.Token != "t" || f.Ack != 7 {
		t.Fatalf("connect %+v", f)
	}
	var recs []*store.Record
	s.SetJournal(func(r *store.Record) error { recs = append(recs, r); return nil })
	cont, err := s.Hello(codec.Frame{Type: codec.TypeHello, Session: "s", Token: "t2", Resumed: true, Ack: 5}, false)
	if err != nil || !cont {
		t.Fatalf("hello: %v %v", cont, err)
	}
	if s.Count.StoreBehind != 1 || s.NextSeq() != 6 {
		t.Fatalf("behind %d, next %d", s.Count.StoreBehind, s.NextSeq())
	}
	if len(recs) != 1 || recs[0].Kind != store.KindSession || recs[0].Token != "t2" {
		t.Fatalf("records %+v", recs)
	}
	// The queued publish takes the number after the server's.
	frames := s.Fill(nil, 1<<20)
	if len(frames) != 1 || frames[0].Seq != 6 || string(frames[0].Data) != "b" {
		t.Fatalf("filled %+v", frames)
	}

	// A session not restored from a store is held to the protocol.
	fresh := New(Limits{Count: 10, Bytes: 100})
	fresh.Hello(codec.Frame{Type: codec.TypeHello, Session: "s", Token: "t"}, false)
	if _, err := fresh.Hello(codec.Frame{Type: codec.TypeHello, Session: "s", Token: "t", Resumed: true, Ack: 5}, false); err == nil {
		t.Fatal("a hello acknowledging numbers never sent was accepted")
	}
}
