package storebench

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/store/filestore"
)

// MeasureClient measures a client publishing 100-byte readings through
// the mock server, each acknowledged, with its outbox in a file store
// under policy p, or in memory when memory is true: publishes per second.
func MeasureClient(p filestore.Policy, memory bool) (float64, error) {
	srv := mock.NewServer(&mock.Options{MaxReceived: 1})
	defer srv.Close()
	var ferr error
	r := testing.Benchmark(func(b *testing.B) {
		dir, err := os.MkdirTemp("", "storebench")
		if err != nil {
			ferr = err
			return
		}
		defer os.RemoveAll(dir)
		opts := &realtime.Options{}
		if !memory {
			st, err := filestore.Open(dir, &filestore.Options{Sync: p})
			if err != nil {
				ferr = err
				return
			}
			defer st.Close()
			opts.Store = st
		}
		c, err := realtime.New(srv.URL(), opts)
		if err != nil {
			ferr = err
			return
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Connect(ctx); err != nil {
			ferr = err
			return
		}
		receipts := make([]*realtime.Receipt, 0, b.N)
		b.ResetTimer()
		for len(receipts) < b.N {
			rc, err := c.PublishAsync("telemetry", Payload)
			if errors.Is(err, realtime.ErrOutboxFull) {
				// Room comes with acknowledgements: wait for the oldest.
				if err := receipts[len(receipts)-realtime.DefaultOutboxCount+1].Wait(ctx); err != nil {
					ferr = err
					return
				}
				continue
			}
			if err != nil {
				ferr = err
				return
			}
			receipts = append(receipts, rc)
		}
		if err := receipts[len(receipts)-1].Wait(ctx); err != nil {
			ferr = err
		}
	})
	if ferr != nil {
		return 0, ferr
	}
	return float64(r.N) / r.T.Seconds(), nil
}
