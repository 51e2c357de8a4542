package bench

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/transport"
)

// runLimit bounds every benchmark in time, whatever b.N the framework picks.
const runLimit = 2 * time.Minute

var sizes = []int{64, 1024}

// deliverWindow bounds the messages in flight from server to client, well
// under the mock's session buffer, so that a fast publisher measures
// throughput instead of tripping the slow-consumer limit.
const deliverWindow = 4096

func transports() []transport.Transport { return realtime.DefaultTransports() }

type sdkRig struct {
	srv *mock.Server
	c   *realtime.Client
	ctx context.Context
}

// newRig connects one client over tr alone to a fresh mock server. Each
// client gets its own HTTP transport so that its connections close with it
// and nothing lingers between benchmarks.
func newRig(tb testing.TB, tr transport.Transport) *sdkRig {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	tb.Cleanup(cancel)
	srv := mock.NewServer(&mock.Options{MaxReceived: 1})
	tb.Cleanup(srv.Close)
	ht := http.DefaultTransport.(*http.Transport).Clone()
	tb.Cleanup(ht.CloseIdleConnections)
	c, err := realtime.New(srv.URL(), &realtime.Options{
		Transports:      []transport.Transport{tr},
		HTTPClient:      &http.Client{Transport: ht},
		UpgradeInterval: -1,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	if err := c.Connect(ctx); err != nil {
		tb.Fatal(err)
	}
	return &sdkRig{srv: srv, c: c, ctx: ctx}
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func reportLatency(b *testing.B, l *Latencies) {
	b.ReportMetric(Micros(l.Percentile(50)), "p50-µs")
	b.ReportMetric(Micros(l.Percentile(99)), "p99-µs")
}

func BenchmarkPublishAcked(b *testing.B) {
	for _, tr := range transports() {
		for _, size := range sizes {
			b.Run(tr.Name()+"/"+strconv.Itoa(size), func(b *testing.B) {
				r := newRig(b, tr)
				payload := Payload(size)
				b.SetBytes(int64(size))
				b.ResetTimer()
				var last *realtime.Receipt
				for range b.N {
					rc, err := r.c.PublishAsync("bench", payload)
					for errors.Is(err, realtime.ErrOutboxFull) {
						select {
						case <-last.Done():
						case <-r.ctx.Done():
							b.Fatal(r.ctx.Err())
						}
						rc, err = r.c.PublishAsync("bench", payload)
					}
					if err != nil {
						b.Fatal(err)
					}
					last = rc
				}
				select {
				case <-last.Done():
				case <-r.ctx.Done():
					b.Fatal(r.ctx.Err())
				}
				if err := last.Err(); err != nil {
					b.Fatal(err)
				}
				reportRate(b)
			})
		}
	}
}

func BenchmarkPublishLatency(b *testing.B) {
	for _, tr := range transports() {
		b.Run(tr.Name(), func(b *testing.B) {
			r := newRig(b, tr)
			payload := Payload(64)
			lat := NewLatencies(b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if err := r.c.Publish(r.ctx, "bench", payload); err != nil {
					b.Fatal(err)
				}
				lat.Add(time.Since(t0))
			}
			reportRate(b)
			reportLatency(b, lat)
		})
	}
}

func BenchmarkDeliver(b *testing.B) {
	for _, tr := range transports() {
		for _, size := range sizes {
			b.Run(tr.Name()+"/"+strconv.Itoa(size), func(b *testing.B) {
				r := newRig(b, tr)
				credit := make(chan struct{}, deliverWindow)
				done := make(chan struct{})
				var got atomic.Int64
				n := int64(b.N)
				_, err := r.c.Subscribe(r.ctx, "bench", func(realtime.Message) {
					<-credit
					if got.Add(1) == n {
						close(done)
					}
				})
				if err != nil {
					b.Fatal(err)
				}
				payload := Payload(size)
				b.SetBytes(int64(size))
				b.ResetTimer()
				for range b.N {
					select {
					case credit <- struct{}{}:
					case <-r.ctx.Done():
						b.Fatal(r.ctx.Err())
					}
					if err := r.srv.Publish(r.ctx, "bench", payload); err != nil {
						b.Fatal(err)
					}
				}
				select {
				case <-done:
				case <-r.ctx.Done():
					b.Fatalf("%d of %d delivered: %v", got.Load(), n, r.ctx.Err())
				}
				reportRate(b)
			})
		}
	}
}

func BenchmarkDeliverLatency(b *testing.B) {
	for _, tr := range transports() {
		for _, size := range sizes {
			b.Run(tr.Name()+"/"+strconv.Itoa(size), func(b *testing.B) {
				r := newRig(b, tr)
				arrived := make(chan time.Duration, 1)
				_, err := r.c.Subscribe(r.ctx, "bench", func(m realtime.Message) {
					d, err := Since(m.Data)
					if err != nil {
						d = -1
					}
					arrived <- d
				})
				if err != nil {
					b.Fatal(err)
				}
				payload := Payload(size)
				lat := NewLatencies(b.N)
				b.ResetTimer()
				for range b.N {
					Stamp(payload)
					if err := r.srv.Publish(r.ctx, "bench", payload); err != nil {
						b.Fatal(err)
					}
					select {
					case d := <-arrived:
						if d < 0 {
							b.Fatal("delivered payload lost its timestamp")
						}
						lat.Add(d)
					case <-r.ctx.Done():
						b.Fatal(r.ctx.Err())
					}
				}
				reportRate(b)
				reportLatency(b, lat)
			})
		}
	}
}
