package prometheus_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	rtprom "github.com/realtimekit/realtime/metrics/prometheus"
	"github.com/realtimekit/realtime/server"
)

// A server's counters, scraped over HTTP after a known workload.
func TestScrapeServerAfterKnownWorkload(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := server.New(server.Config{OnPublish: func(_ context.Context, p server.Publication) error {
		if p.Channel == "no" {
			return &server.Refusal{Code: 4003, Reason: "forbidden"}
		}
		return nil
	}})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close(context.Background())
	c, err := realtime.New(ts.URL, nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Connect(ctx))
	_, err = c.Subscribe(ctx, "ch", func(realtime.Message) {})
	require.NoError(t, err)
	for range 4 {
		require.NoError(t, c.Publish(ctx, "ch", []byte("x")))
	}
	require.Error(t, c.Publish(ctx, "no", []byte("x")))

	reg := prom.NewPedanticRegistry()
	require.NoError(t, reg.Register(rtprom.NewServerCollector(srv, nil)))
	hs := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer hs.Close()
	mfs := scrape(t, ctx, hs.URL)
	require.Equal(t, 4.0, value(t, mfs, "realtime_server_publishes_total"))
	require.Equal(t, 1.0, value(t, mfs, "realtime_server_refusals_total"))
	require.Equal(t, 0.0, value(t, mfs, "realtime_server_backend_publishes_total"))
	require.Equal(t, 1.0, value(t, mfs, "realtime_server_connections"))
	require.Equal(t, 1.0, value(t, mfs, "realtime_server_sessions"))
	require.Equal(t, 1.0, value(t, mfs, "realtime_server_channels"))
}
