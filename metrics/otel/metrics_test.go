package otel_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/realtimekit/realtime"
	rtotel "github.com/realtimekit/realtime/metrics/otel"
	"github.com/realtimekit/realtime/mock"
)

// A known workload, collected through the OpenTelemetry metric SDK: the
// counters hold exactly what happened.
func TestStatsMetricsAfterKnownWorkload(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := mock.NewServer(nil)
	t.Cleanup(srv.Close)
	srv.Nack(func(m mock.Message) (uint16, string) {
		if m.Channel == "no" {
			return 4003, "forbidden"
		}
		return 0, ""
	})
	c := client(t, ctx, srv, nil)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	reg, err := rtotel.RegisterStats(mp, c, attribute.String("client", "test"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = reg.Unregister() })

	_, err = c.Subscribe(ctx, "ch", func(realtime.Message) {})
	require.NoError(t, err)
	for range 5 {
		require.NoError(t, c.Publish(ctx, "ch", []byte("12345678")))
	}
	require.Error(t, c.Publish(ctx, "no", []byte("x")))
	for c.Stats().Delivered < 5 {
		select {
		case <-ctx.Done():
			t.Fatal("not delivered")
		case <-time.After(2 * time.Millisecond):
		}
	}
	s := c.Stats()

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	got := map[string]map[string]float64{} // metric -> result attribute -> value
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			got[m.Name] = map[string]float64{}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					require.True(t, d.IsMonotonic, m.Name)
					r, _ := p.Attributes.Value("realtime.result")
					require.True(t, p.Attributes.HasValue("client"), m.Name)
					got[m.Name][r.AsString()] = float64(p.Value)
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					got[m.Name][""] = p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					got[m.Name][""] = float64(p.Value)
				}
			}
		}
	}
	require.Equal(t, map[string]float64{"acked": 5, "refused": 1, "failed": 0}, got["realtime.client.publishes"])
	require.Equal(t, 5.0, got["realtime.client.deliveries"][""])
	require.Equal(t, 1.0, got["realtime.client.connects"][""])
	require.Equal(t, 41.0, got["realtime.client.published.bytes"][""], "5 x 8 + 1")
	require.Equal(t, 40.0, got["realtime.client.delivered.bytes"][""])
	require.Greater(t, got["realtime.client.bytes.sent"][""], 41.0)
	require.Equal(t, s.AckLatencySum.Seconds(), got["realtime.client.ack.duration.sum"][""])
	require.Equal(t, 0.0, got["realtime.client.outbox.messages"][""])
	require.Contains(t, got, "realtime.client.inbox.messages")
}
