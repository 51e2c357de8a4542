package filestore

import (
	"bytes"
	"testing"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/store"
)

// BenchmarkRecover measures Open + Load + Close of a store that holds
// 100,000 queued publishes of 100 bytes: what an agent pays when it starts
// after a long outage.
func BenchmarkRecover(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, &Options{Sync: SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("r"), 100)
	for i := range uint64(100_000) {
		if err := s.Append(&store.Record{Kind: store.KindAdd, ID: i + 1, Type: codec.TypePublish, Channel: "telemetry", Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	b.ResetTimer()
	for b.Loop() {
		s, err := Open(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		st, err := s.Load()
		if err != nil || len(st.Ops()) != 100_000 {
			b.Fatal(err)
		}
		s.Close()
	}
}
