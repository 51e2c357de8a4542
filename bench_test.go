package realtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/transport"
)

// BenchmarkConnect measures New + Connect to connected, per landing
// transport; the refused ones include the refusal of the better transports.
//
//	go test -run '^$' -bench Connect -benchtime 200x .
func BenchmarkConnect(b *testing.B) {
	cases := []struct {
		name    string
		refuse  []string
		landsOn string
	}{
		{"websocket", nil, "websocket"},
		{"sse-after-ws-403", []string{"websocket"}, "sse"},
		{"longpoll-after-ws-sse-403", []string{"websocket", "sse"}, "longpoll"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			srv := mock.NewServer(nil)
			defer srv.Close()
			for _, r := range tc.refuse {
				srv.RefuseTransport(r, 403)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			b.ResetTimer()
			for range b.N {
				c, err := realtime.New(srv.URL(), &realtime.Options{UpgradeInterval: -1})
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Connect(ctx); err != nil {
					b.Fatal(err)
				}
				if got := c.Transport(); got != tc.landsOn {
					b.Fatalf("landed on %s, want %s", got, tc.landsOn)
				}
				b.StopTimer()
				c.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/connect")
		})
	}
}

// BenchmarkPublishAcked measures pipelined publishes, each acknowledged,
// per transport, with 64-byte payloads.
//
//	go test -run '^$' -bench PublishAcked .
func BenchmarkPublishAcked(b *testing.B) {
	for _, tr := range realtime.DefaultTransports() {
		b.Run(tr.Name(), func(b *testing.B) {
			srv := mock.NewServer(nil)
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			c, err := realtime.New(srv.URL(), &realtime.Options{Transports: []transport.Transport{tr}})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.Connect(ctx); err != nil {
				b.Fatal(err)
			}
			payload := make([]byte, 64)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			b.ResetTimer()
			var last *realtime.Receipt
			for range b.N {
				r, err := c.PublishAsync("bench", payload)
				for err == realtime.ErrOutboxFull {
					if werr := last.Wait(ctx); werr != nil {
						b.Fatal(werr)
					}
					r, err = c.PublishAsync("bench", payload)
				}
				if err != nil {
					b.Fatal(err)
				}
				last = r
			}
			if err := last.Wait(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkObserverUnset measures a message published, acknowledged and
// delivered back to the publisher's own subscription, without an Observer
// and with one that does nothing: unset, the observer's hooks allocate
// nothing (compare allocs/op with the same benchmark before Observer).
//
//	go test -run '^$' -bench ObserverUnset -benchtime 20000x -count 5 .
func BenchmarkObserverUnset(b *testing.B) {
	for _, name := range []string{"unset", "noop"} {
		b.Run(name, func(b *testing.B) {
			opts := &realtime.Options{Transports: []transport.Transport{realtime.DefaultTransports()[0]}}
			if name == "noop" {
				opts.Observer = realtime.ObserverFunc(func(realtime.Event) {})
			}
			benchRoundTrip(b, opts)
		})
	}
}

// benchRoundTrip publishes b.N 64-byte messages, pipelined, to a channel
// the client subscribes to, and waits until all were delivered.
func benchRoundTrip(b *testing.B, opts *realtime.Options) {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := realtime.New(srv.URL(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	all := make(chan struct{})
	n := 0
	if _, err := c.Subscribe(ctx, "bench", func(realtime.Message) {
		if n++; n == b.N {
			close(all)
		}
	}); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	var last *realtime.Receipt
	for range b.N {
		r, err := c.PublishAsync("bench", payload)
		for err == realtime.ErrOutboxFull {
			if werr := last.Wait(ctx); werr != nil {
				b.Fatal(werr)
			}
			r, err = c.PublishAsync("bench", payload)
		}
		if err != nil {
			b.Fatal(err)
		}
		last = r
	}
	select {
	case <-all:
	case <-ctx.Done():
		b.Fatal(ctx.Err())
	}
}
