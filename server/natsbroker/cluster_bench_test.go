package natsbroker

import (
	"context"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/server/internal/clustertest"
)

// The cluster benchmarks run server.Server nodes on this module, each on
// its own NATS connection to one embedded server, with realtime.Clients
// over WebSocket (SSE for the resume): what several nodes cost beside the
// raw NATS publish-subscribe of BenchmarkLatencyCoreNATS, in the same run.

func benchClient(b *testing.B, ctx context.Context, url string, tr string) *realtime.Client {
	b.Helper()
	cl, err := realtime.New(url, &realtime.Options{
		Transports: clustertest.Transports(tr),
		Reconnect:  reconnect.Policy{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cl.Close() })
	if err := cl.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	return cl
}

func serve(b *testing.B, n *serverNode) string {
	ts := httptest.NewServer(n.srv)
	b.Cleanup(ts.Close)
	return ts.URL
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkClusterCrossNode: a client on node a publishes, one on node b
// receives; from Publish to the handler, one message at a time.
func BenchmarkClusterCrossNode(b *testing.B) {
	s := startServer(b)
	ctx := testCtx(b)
	a, c := newServerNode(b, s.ClientURL()), newServerNode(b, s.ClientURL())
	pub, sub := benchClient(b, ctx, serve(b, a), "websocket"), benchClient(b, ctx, serve(b, c), "websocket")
	got := make(chan struct{}, 1)
	if _, err := sub.Subscribe(ctx, "x", func(realtime.Message) { got <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	timeout := time.NewTimer(0)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := pub.PublishAsync("x", benchPayload); err != nil {
			b.Fatal(err)
		}
		timeout.Reset(scaled(10 * time.Second))
		select {
		case <-got:
		case <-timeout.C:
			b.Fatal("no delivery")
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkClusterFanOut: the backend publishes on node 0 to 1,000
// subscribers spread over 3 nodes; each round waits for every delivery.
func BenchmarkClusterFanOut(b *testing.B) {
	const subs = 1000
	s := startServer(b)
	ctx := testCtx(b)
	var nodes []*serverNode
	var urls []string
	for range 3 {
		n := newServerNode(b, s.ClientURL())
		nodes, urls = append(nodes, n), append(urls, serve(b, n))
	}
	var delivered atomic.Int64
	round := make(chan struct{}, 1)
	var want atomic.Int64
	var wg sync.WaitGroup
	clients := make([]*realtime.Client, subs)
	for i := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i] = benchClient(b, ctx, urls[i%3], "websocket")
		}()
	}
	wg.Wait()
	for _, cl := range clients {
		if _, err := cl.Subscribe(ctx, "fan", func(realtime.Message) {
			if delivered.Add(1) == want.Load() {
				round <- struct{}{}
			}
		}); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	timeout := time.NewTimer(0)
	b.ResetTimer()
	for i := range b.N {
		want.Store(int64(subs * (i + 1)))
		t0 := time.Now()
		if err := nodes[0].srv.Publish(ctx, "fan", benchPayload); err != nil {
			b.Fatal(err)
		}
		timeout.Reset(scaled(30 * time.Second))
		select {
		case <-round:
		case <-timeout.C:
			b.Fatalf("round %d: %d of %d delivered", i, delivered.Load(), want.Load())
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*subs)/b.Elapsed().Seconds(), "deliveries/s")
	reportPercentiles(b, lat)
}

// BenchmarkClusterResume: a client's connection is cut and the balancer
// sends it to the other node, which rebuilds its session; from the cut to
// the client connected again with the session resumed. The client's
// backoff is 1 ms; its connects ceiling (20 at once) bounds b.N: run it
// with -benchtime 10x.
func BenchmarkClusterResume(b *testing.B) {
	if b.N > 15 {
		b.Skip("the client's connects ceiling allows 20 connects at once: use -benchtime 10x")
	}
	s := startServer(b)
	ctx := testCtx(b)
	nodes := []*serverNode{newServerNode(b, s.ClientURL()), newServerNode(b, s.ClientURL())}
	fr := clustertest.NewFront(nodes[0].srv)
	ts := httptest.NewServer(fr)
	b.Cleanup(ts.Close)
	resumed := make(chan struct{}, 1)
	cl, err := realtime.New(ts.URL, &realtime.Options{
		Transports: clustertest.Transports("sse"),
		Reconnect:  reconnect.Policy{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond},
		OnStateChange: func(c realtime.StateChange) {
			if c.To == realtime.StateConnected && c.Reason == "session resumed" {
				resumed <- struct{}{}
			}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cl.Close() })
	if err := cl.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		// Something acknowledged on the link, so that it did not die young.
		if err := cl.Publish(ctx, "r", []byte(strconv.Itoa(i))); err != nil {
			b.Fatal(err)
		}
		fr.Set(nodes[(i+1)%2].srv)
		t0 := time.Now()
		ts.CloseClientConnections()
		select {
		case <-resumed:
		case <-ctx.Done():
			b.Fatalf("resume %d: %v", i, ctx.Err())
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	if n := cl.Stats().ContinuityLost; n != 0 {
		b.Fatalf("continuity lost %d times", n)
	}
	reportPercentiles(b, lat)
}
