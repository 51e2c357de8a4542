package natsbroker

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/realtimekit/realtime/server"
)

// The three benchmarks measure one publication at a time, from the call
// that publishes it to its delivery, on a 1-node embedded server, and
// report p50-ns and p99-ns: raw NATS core, JetStream publish (waiting for
// the PubAck) to an ordered consumer, and this Broker, which is the
// second plus its own dispatch. Their ratios are the cost of the log.

var benchPayload = make([]byte, 128)

// latencies runs b.N rounds of publish-then-wait and reports percentiles.
func latencies(b *testing.B, publish func() error, delivered <-chan struct{}) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	timeout := time.NewTimer(0)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := publish(); err != nil {
			b.Fatal(err)
		}
		timeout.Reset(scaled(10 * time.Second))
		select {
		case <-delivered:
		case <-timeout.C:
			b.Fatal("no delivery")
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkLatencyCoreNATS(b *testing.B) {
	s := startServer(b)
	pub, sub := connect(b, s.ClientURL()), connect(b, s.ClientURL())
	delivered := make(chan struct{}, 1)
	if _, err := sub.Subscribe("bench.core", func(*nats.Msg) { delivered <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		b.Fatal(err)
	}
	latencies(b, func() error { return pub.Publish("bench.core", benchPayload) }, delivered)
}

func BenchmarkLatencyJetStreamOrdered(b *testing.B) {
	s := startServer(b)
	ctx := testCtx(b)
	js, err := jetstream.New(connect(b, s.ClientURL()))
	if err != nil {
		b.Fatal(err)
	}
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.js.>"}})
	if err != nil {
		b.Fatal(err)
	}
	oc, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		b.Fatal(err)
	}
	delivered := make(chan struct{}, 1)
	cc, err := oc.Consume(func(jetstream.Msg) { delivered <- struct{}{} })
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	latencies(b, func() error {
		_, err := js.Publish(ctx, "bench.js.x", benchPayload)
		return err
	}, delivered)
}

func BenchmarkLatencyBroker(b *testing.B) {
	s := startServer(b)
	pub := newCluster(b, s.ClientURL(), Options{})
	sub := newCluster(b, s.ClientURL(), Options{})
	ctx := testCtx(b)
	delivered := make(chan struct{}, 1)
	if err := sub.Subscribe(ctx, "bench", func(server.Message) { delivered <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	latencies(b, func() error {
		return pub.Publish(context.Background(), server.Message{Channel: "bench", Data: benchPayload})
	}, delivered)
}
