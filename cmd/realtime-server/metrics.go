package main

import (
	"net/http"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	rtprom "github.com/realtimekit/realtime/metrics/prometheus"
	"github.com/realtimekit/realtime/server"
)

// metricsHandler serves srv's Stats, and the Go runtime's and the
// process's metrics, in the Prometheus formats, from a registry of its own
// (no global state).
func metricsHandler(srv *server.Server) http.Handler {
	reg := prom.NewRegistry()
	reg.MustRegister(
		rtprom.NewServerCollector(srv, nil),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
