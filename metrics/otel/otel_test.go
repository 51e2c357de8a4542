package otel_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/realtimekit/realtime"
	rtotel "github.com/realtimekit/realtime/metrics/otel"
	"github.com/realtimekit/realtime/mock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testCtx bounds a test; REALTIME_TEST_TIMEOUT_SCALE stretches it.
func testCtx(t *testing.T, d time.Duration) context.Context {
	if f, err := strconv.ParseFloat(os.Getenv("REALTIME_TEST_TIMEOUT_SCALE"), 64); err == nil && f > 1 {
		d = time.Duration(float64(d) * f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func client(t *testing.T, ctx context.Context, srv *mock.Server, opts *realtime.Options) *realtime.Client {
	t.Helper()
	c, err := realtime.New(srv.URL(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Connect(ctx))
	return c
}

// One trace spans a publish on one client and its delivery on another:
// the deliver span is the publish span's child, across the wire.
func TestOneTraceFromPublishToDelivery(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := rtotel.NewTracer(tp)

	srv := mock.NewServer(nil)
	t.Cleanup(srv.Close)
	sub := client(t, ctx, srv, &realtime.Options{Observer: tr})
	got := make(chan realtime.Message, 1)
	_, err := sub.Subscribe(ctx, "orders", func(m realtime.Message) { got <- m })
	require.NoError(t, err)
	pub := client(t, ctx, srv, nil)

	// The publish is itself inside an application span.
	appCtx, app := tp.Tracer("app").Start(ctx, "checkout")
	require.NoError(t, tr.Publish(appCtx, pub, realtime.Message{Channel: "orders", Data: []byte("order 1"),
		Header: map[string]string{"k": "v"}}))
	app.End()
	var m realtime.Message
	select {
	case m = <-got:
	case <-ctx.Done():
		t.Fatal("not delivered")
	}
	require.Equal(t, "v", m.Header["k"])
	require.Contains(t, m.Header, "traceparent")
	// The handler's own spans can hang under the publish too.
	require.Equal(t, app.SpanContext().TraceID(), trace.SpanContextFromContext(tr.Extract(ctx, m)).TraceID())

	// The deliver span is recorded once the handler returned.
	var spans tracetest.SpanStubs
	for spans = exp.GetSpans(); len(spans) < 3; spans = exp.GetSpans() {
		select {
		case <-ctx.Done():
			t.Fatalf("%d spans", len(spans))
		case <-time.After(2 * time.Millisecond):
		}
	}
	require.Len(t, spans, 3)
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	publish, deliver := byName["publish orders"], byName["deliver orders"]
	require.Equal(t, trace.SpanKindProducer, publish.SpanKind)
	require.Equal(t, trace.SpanKindConsumer, deliver.SpanKind)

	traceID := app.SpanContext().TraceID()
	require.Equal(t, traceID, publish.SpanContext.TraceID())
	require.Equal(t, traceID, deliver.SpanContext.TraceID(), "one trace across both clients")
	require.Equal(t, app.SpanContext().SpanID(), publish.Parent.SpanID())
	require.Equal(t, publish.SpanContext.SpanID(), deliver.Parent.SpanID())
	require.True(t, deliver.Parent.IsRemote())
	require.False(t, deliver.StartTime.After(deliver.EndTime))
	require.Contains(t, deliver.Attributes, attribute.String("messaging.destination.name", "orders"))
	require.Contains(t, deliver.Attributes, attribute.Int("messaging.message.body.size", 7))
}

// A refused publish ends its span with an error status that names no
// payload.
func TestRefusedPublishMarksItsSpan(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	srv := mock.NewServer(nil)
	t.Cleanup(srv.Close)
	srv.Nack(func(mock.Message) (uint16, string) { return 4003, "forbidden" })
	pub := client(t, ctx, srv, nil)
	err := rtotel.NewTracer(tp).Publish(ctx, pub, realtime.Message{Channel: "x", Data: []byte("secret-payload")})
	var refused *realtime.RefusedError
	require.ErrorAs(t, err, &refused)
	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	require.Equal(t, "refused", spans[0].Status.Description)
	require.NotContains(t, spans[0].Status.Description, "secret-payload")
}
