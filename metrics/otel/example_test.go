package otel_test

import (
	"context"
	"fmt"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/realtimekit/realtime"
	rtotel "github.com/realtimekit/realtime/metrics/otel"
	"github.com/realtimekit/realtime/mock"
)

// The publisher publishes through the Tracer; the subscriber has it as its
// Observer. The deliver span joins the publish span's trace.
func ExampleTracer_Publish() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	tr := rtotel.NewTracer(tp)

	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	connect := func(opts *realtime.Options) *realtime.Client {
		c, err := realtime.New(srv.URL(), opts)
		if err != nil {
			panic(err)
		}
		if err := c.Connect(ctx); err != nil {
			panic(err)
		}
		return c
	}
	sub := connect(&realtime.Options{Observer: tr})
	defer sub.Close()
	pub := connect(nil)
	defer pub.Close()
	if _, err := sub.Subscribe(ctx, "orders", func(realtime.Message) {}); err != nil {
		panic(err)
	}
	if err := tr.Publish(ctx, pub, realtime.Message{Channel: "orders", Data: []byte("order 1")}); err != nil {
		panic(err)
	}
	for len(exp.GetSpans()) < 2 { // the deliver span ends after the handler
		select {
		case <-ctx.Done():
			panic("no deliver span")
		case <-time.After(time.Millisecond):
		}
	}
	s := exp.GetSpans()
	fmt.Println("one trace:", s[0].SpanContext.TraceID() == s[1].SpanContext.TraceID())
	for _, span := range s {
		fmt.Println(span.Name)
	}
	// Unordered output:
	// one trace: true
	// publish orders
	// deliver orders
}
