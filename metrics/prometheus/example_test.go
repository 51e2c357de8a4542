package prometheus_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/realtimekit/realtime"
	rtprom "github.com/realtimekit/realtime/metrics/prometheus"
	"github.com/realtimekit/realtime/mock"
)

// Register a Collector per client and serve the registry as usual.
func ExampleNewCollector() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := realtime.New(srv.URL(), nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		panic(err)
	}

	reg := prom.NewRegistry()
	reg.MustRegister(rtprom.NewCollector(c, prom.Labels{"client": "orders"}))
	hs := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})) // in a program: http.Handle("/metrics", ...)
	defer hs.Close()

	if err := c.Publish(ctx, "news", []byte("hello")); err != nil {
		panic(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "realtime_client_publishes_total" {
			for _, m := range mf.GetMetric() {
				fmt.Println(m.GetLabel()[1].GetValue(), m.GetCounter().GetValue())
			}
		}
	}
	// Output:
	// acked 1
	// failed 0
	// refused 0
}
