// Package otel traces a realtime Client's messages with OpenTelemetry: a
// publish span on the publishing client, whose W3C trace context travels
// in the message's Header ("traceparent", "tracestate"), and a deliver
// span on each receiving client, child of the publish span, so one trace
// spans the publish and its deliveries across the wire.
//
// RegisterStats exports the client's Stats through the OpenTelemetry
// metric API.
//
// It is a module of its own, so that the SDK pulls in no OpenTelemetry
// dependency:
//
//	t := otel.NewTracer(tp)                                      // nil: the global provider
//	sub, _ := realtime.New(url, &realtime.Options{Observer: t})  // deliver spans
//	err := t.Publish(ctx, pub, realtime.Message{Channel: "orders", Data: data})
package otel

import (
	"context"
	"errors"
	"maps"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/realtimekit/realtime"
)

// ScopeName is the instrumentation scope of the spans.
const ScopeName = "github.com/realtimekit/realtime/metrics/otel"

// system is the messaging.system attribute of every span.
var system = semconv.MessagingSystemKey.String("realtime")

// Tracer records the spans of a Client's publishes and deliveries. Its
// Observe makes it a realtime.Observer (set it as Options.Observer on a
// receiving client); Publish publishes within a span. It is safe for
// concurrent use.
type Tracer struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// NewTracer returns a Tracer on tp, or on the global TracerProvider when
// tp is nil. The trace context crosses the wire as W3C Trace Context.
func NewTracer(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Tracer{
		tracer: tp.Tracer(ScopeName),
		prop:   propagation.TraceContext{},
	}
}

// Publish publishes m with c.PublishMessage within a producer span
// "publish <channel>", child of ctx's span, whose trace context it adds to
// a copy of m.Header. The span ends when the publish is acknowledged,
// refused or fails (its error recorded) or ctx ends.
func (t *Tracer) Publish(ctx context.Context, c *realtime.Client, m realtime.Message) error {
	ctx, span := t.tracer.Start(ctx, "publish "+m.Channel, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(system, semconv.MessagingOperationTypeSend,
			semconv.MessagingDestinationName(m.Channel), semconv.MessagingMessageBodySize(len(m.Data))))
	defer span.End()
	h := make(map[string]string, len(m.Header)+2)
	maps.Copy(h, m.Header)
	t.prop.Inject(ctx, propagation.MapCarrier(h))
	m.Header = h
	err := c.PublishMessage(ctx, m)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, errorKind(err))
	}
	return err
}

// Publish publishes data on channel within a span, as Tracer.Publish does,
// on the global TracerProvider.
func Publish(ctx context.Context, c *realtime.Client, channel string, data []byte) error {
	return NewTracer(nil).Publish(ctx, c, realtime.Message{Channel: channel, Data: data})
}

// Extract returns ctx with the remote span context m's Header carries, for
// a handler that starts spans of its own under the publish.
func (t *Tracer) Extract(ctx context.Context, m realtime.Message) context.Context {
	return t.prop.Extract(ctx, propagation.MapCarrier(m.Header))
}

// Observe records a consumer span "deliver <channel>" for each
// EventDeliver, child of the span whose context the message's Header
// carries (a new trace without one), from when the handler started to
// when it returned; other events are ignored. It runs on the client's
// dispatcher, after the handler.
func (t *Tracer) Observe(e realtime.Event) {
	if e.Kind != realtime.EventDeliver {
		return
	}
	ctx := t.prop.Extract(context.Background(), propagation.MapCarrier(e.Header))
	_, span := t.tracer.Start(ctx, "deliver "+e.Channel, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithTimestamp(e.At.Add(-e.Latency)),
		trace.WithAttributes(system, semconv.MessagingOperationTypeProcess,
			semconv.MessagingDestinationName(e.Channel), semconv.MessagingMessageBodySize(e.Bytes),
			attribute.Int64("realtime.seq", int64(min(e.Seq, 1<<63-1))), attribute.String("realtime.transport", e.Transport)))
	span.End(trace.WithTimestamp(e.At))
}

// errorKind is a span status description that carries no payload, token
// or connection id: the kind of error only.
func errorKind(err error) string {
	var refused *realtime.RefusedError
	switch {
	case errors.As(err, &refused):
		return "refused"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "not acknowledged in time"
	default:
		return "failed"
	}
}

var _ realtime.Observer = (*Tracer)(nil)
