package prometheus_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtimekit/realtime"
	rtprom "github.com/realtimekit/realtime/metrics/prometheus"
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

// scrape fetches url over HTTP and parses the Prometheus text format.
func scrape(t *testing.T, ctx context.Context, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return mfs
}

// value returns the value of family name's metric whose labels include
// want (name=value pairs).
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	mf, ok := mfs[name]
	require.True(t, ok, "no %s", name)
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i < len(want); i += 2 {
			match = match && labels[want[i]] == want[i+1]
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no %s%v", name, want)
	return 0
}

// A known workload, scraped over HTTP: counters, gauges and the latency
// histogram hold exactly what happened.
func TestScrapeAfterKnownWorkload(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := mock.NewServer(nil)
	defer srv.Close()
	srv.Nack(func(m mock.Message) (uint16, string) {
		if m.Channel == "no" {
			return 4003, "forbidden"
		}
		return 0, ""
	})
	c, err := realtime.New(srv.URL(), nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Connect(ctx))
	_, err = c.Subscribe(ctx, "ch", func(realtime.Message) {})
	require.NoError(t, err)
	payload := 0
	for i := range 10 {
		data := make([]byte, 100+i)
		payload += len(data)
		require.NoError(t, c.Publish(ctx, "ch", data))
	}
	require.Error(t, c.Publish(ctx, "no", []byte("nope")))
	var s realtime.Stats
	for s = c.Stats(); s.Delivered < 10; s = c.Stats() {
		select {
		case <-ctx.Done():
			t.Fatalf("delivered %d of 10", s.Delivered)
		case <-time.After(2 * time.Millisecond):
		}
	}

	reg := prom.NewPedanticRegistry() // checks the descriptors and metrics are consistent
	require.NoError(t, reg.Register(rtprom.NewCollector(c, prom.Labels{"client": "test"})))
	hs := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer hs.Close()
	mfs := scrape(t, ctx, hs.URL)

	require.Equal(t, 10.0, value(t, mfs, "realtime_client_publishes_total", "result", "acked", "client", "test"))
	require.Equal(t, 1.0, value(t, mfs, "realtime_client_publishes_total", "result", "refused"))
	require.Equal(t, 0.0, value(t, mfs, "realtime_client_publishes_total", "result", "failed"))
	require.Equal(t, 11.0, value(t, mfs, "realtime_client_messages_published_total"))
	require.Equal(t, 10.0, value(t, mfs, "realtime_client_messages_delivered_total"))
	require.Equal(t, float64(payload+4), value(t, mfs, "realtime_client_published_bytes_total"))
	require.Equal(t, float64(payload), value(t, mfs, "realtime_client_delivered_bytes_total"))
	require.Equal(t, 1.0, value(t, mfs, "realtime_client_connects_total"))
	require.Equal(t, 0.0, value(t, mfs, "realtime_client_disconnects_total"))
	require.Greater(t, value(t, mfs, "realtime_client_bytes_sent_total"), float64(payload))
	require.Greater(t, value(t, mfs, "realtime_client_bytes_received_total"), float64(payload))
	require.Equal(t, 0.0, value(t, mfs, "realtime_client_outbox_messages"))
	require.Equal(t, 1.0, value(t, mfs, "realtime_client_state", "state", "connected"))
	require.Equal(t, 0.0, value(t, mfs, "realtime_client_state", "state", "reconnecting"))
	require.Len(t, mfs["realtime_client_state"].GetMetric(), 7)

	// The histogram: 10 acks (the refusal is no ack), buckets cumulative
	// over realtime.LatencyBuckets in seconds, the sum AckLatencySum's.
	h := mfs["realtime_client_ack_latency_seconds"]
	require.Equal(t, dto.MetricType_HISTOGRAM, h.GetType())
	hist := h.GetMetric()[0].GetHistogram()
	require.Equal(t, uint64(10), hist.GetSampleCount())
	require.InDelta(t, s.AckLatencySum.Seconds(), hist.GetSampleSum(), 1e-9)
	buckets := hist.GetBucket()
	require.Len(t, buckets, len(realtime.LatencyBuckets)+1, "and +Inf")
	require.True(t, math.IsInf(buckets[len(buckets)-1].GetUpperBound(), 1))
	require.Equal(t, uint64(10), buckets[len(buckets)-1].GetCumulativeCount())
	var cum uint64
	for i, b := range buckets[:len(buckets)-1] {
		cum += s.AckLatency[i]
		require.Equal(t, realtime.LatencyBuckets[i].Seconds(), b.GetUpperBound())
		require.Equal(t, cum, b.GetCumulativeCount(), "bucket le=%v", b.GetUpperBound())
	}
	require.Equal(t, uint64(10), cum, "no ack slower than 5 s")
}
