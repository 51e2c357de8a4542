package otel

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/realtimekit/realtime"
)

// StatsSource is what RegisterStats reads; *realtime.Client is one.
type StatsSource interface {
	Stats() realtime.Stats
}

// RegisterStats registers asynchronous instruments on mp (the global
// MeterProvider when nil) that read src's Stats once per collection:
// counters realtime.client.publishes (attribute realtime.result: acked,
// refused, failed), realtime.client.deliveries, realtime.client.connects,
// realtime.client.disconnects, realtime.client.bytes.sent,
// realtime.client.bytes.received, realtime.client.published.bytes,
// realtime.client.delivered.bytes, realtime.client.ack.duration.sum (s),
// and gauges realtime.client.outbox.messages and
// realtime.client.inbox.messages. attrs are added to every measurement.
// Unregister the returned Registration when the client is closed. (The ack
// latency's buckets are exported faithfully by metrics/prometheus.)
func RegisterStats(mp metric.MeterProvider, src StatsSource, attrs ...attribute.KeyValue) (metric.Registration, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(ScopeName)
	var errs []error
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	publishes := counter("realtime.client.publishes", "{message}", "Publishes settled, by result.")
	deliveries := counter("realtime.client.deliveries", "{message}", "Messages handed to a handler.")
	connects := counter("realtime.client.connects", "{connection}", "Connections established.")
	disconnects := counter("realtime.client.disconnects", "{connection}", "Connections lost.")
	sent := counter("realtime.client.bytes.sent", "By", "Encoded bytes sent on live connections.")
	received := counter("realtime.client.bytes.received", "By", "Encoded bytes received on live connections.")
	pubBytes := counter("realtime.client.published.bytes", "By", "Payload bytes of the publishes accepted.")
	delBytes := counter("realtime.client.delivered.bytes", "By", "Payload bytes handed to handlers.")
	ackSum, err := m.Float64ObservableCounter("realtime.client.ack.duration.sum", metric.WithUnit("s"),
		metric.WithDescription("Sum of the times from publish to acknowledgement."))
	errs = append(errs, err)
	outbox := gauge("realtime.client.outbox.messages", "{message}", "Messages queued or awaiting acknowledgement.")
	inbox := gauge("realtime.client.inbox.messages", "{message}", "Messages waiting for their handler.")
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	set := metric.WithAttributes(attrs...)
	result := func(r string) metric.ObserveOption {
		return metric.WithAttributes(append(append([]attribute.KeyValue(nil), attrs...), attribute.String("realtime.result", r))...)
	}
	acked, refused, failed := result("acked"), result("refused"), result("failed")
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := src.Stats()
		i := func(v uint64) int64 { return int64(min(v, 1<<63-1)) }
		o.ObserveInt64(publishes, i(s.Acked), acked)
		o.ObserveInt64(publishes, i(s.Refused), refused)
		o.ObserveInt64(publishes, i(s.Failed), failed)
		o.ObserveInt64(deliveries, i(s.Delivered), set)
		o.ObserveInt64(connects, i(s.Connects), set)
		o.ObserveInt64(disconnects, i(s.Disconnects), set)
		o.ObserveInt64(sent, i(s.BytesSent), set)
		o.ObserveInt64(received, i(s.BytesReceived), set)
		o.ObserveInt64(pubBytes, i(s.PublishedBytes), set)
		o.ObserveInt64(delBytes, i(s.DeliveredBytes), set)
		o.ObserveFloat64(ackSum, s.AckLatencySum.Seconds(), set)
		o.ObserveInt64(outbox, int64(s.OutboxCount), set)
		o.ObserveInt64(inbox, int64(s.InboxCount), set)
		return nil
	}, publishes, deliveries, connects, disconnects, sent, received, pubBytes, delBytes, ackSum, outbox, inbox)
}
