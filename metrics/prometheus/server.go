package prometheus

import (
	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/realtimekit/realtime/server"
)

// ServerStatsSource is what a ServerCollector reads; *server.Server is
// one.
type ServerStatsSource interface {
	Stats() server.Stats
}

// ServerCollector is a prometheus.Collector over a server's Stats, read on
// each scrape. The metrics, all prefixed realtime_server_: connections,
// sessions, pending_connections, channels (gauges), publishes_total
// (client publishes handed to the broker), backend_publishes_total,
// refusals_total, resumes_total, restores_total.
type ServerCollector struct {
	src    ServerStatsSource
	gauges []serverMetric
	counts []serverMetric
}

type serverMetric struct {
	desc *prom.Desc
	get  func(*server.Stats) float64
}

// NewServerCollector returns a ServerCollector reading src's Stats on
// each scrape; constLabels (nil for none) are added to every metric.
func NewServerCollector(src ServerStatsSource, constLabels prom.Labels) *ServerCollector {
	c := &ServerCollector{src: src}
	m := func(name, help string, get func(*server.Stats) float64) serverMetric {
		return serverMetric{prom.NewDesc("realtime_server_"+name, help, nil, constLabels), get}
	}
	c.gauges = []serverMetric{
		m("connections", "Connections carrying a session.", func(s *server.Stats) float64 { return float64(s.Conns) }),
		m("sessions", "Sessions kept, with or without a connection.", func(s *server.Stats) float64 { return float64(s.Sessions) }),
		m("pending_connections", "Connections awaiting their connect frame.", func(s *server.Stats) float64 { return float64(s.Pending) }),
		m("channels", "Channels this node is subscribed to at the broker.", func(s *server.Stats) float64 { return float64(s.Channels) }),
	}
	c.counts = []serverMetric{
		m("publishes_total", "Client publishes handed to the broker.", func(s *server.Stats) float64 { return float64(s.Published) }),
		m("backend_publishes_total", "Successful calls of Server.Publish.", func(s *server.Stats) float64 { return float64(s.BackendPublished) }),
		m("refusals_total", "Nacks sent: refusals by Authorize, OnPublish or a bound.", func(s *server.Stats) float64 { return float64(s.Refused) }),
		m("resumes_total", "Sessions resumed on this node.", func(s *server.Stats) float64 { return float64(s.Resumed) }),
		m("restores_total", "Resumed sessions rebuilt from the session store (cluster mode).", func(s *server.Stats) float64 { return float64(s.Restored) }),
	}
	return c
}

// Describe sends the descriptors of every metric.
func (c *ServerCollector) Describe(ch chan<- *prom.Desc) {
	for _, m := range append(c.gauges[:len(c.gauges):len(c.gauges)], c.counts...) {
		ch <- m.desc
	}
}

// Collect reads the server's Stats once and sends every metric from it.
func (c *ServerCollector) Collect(ch chan<- prom.Metric) {
	s := c.src.Stats()
	for _, m := range c.gauges {
		ch <- prom.MustNewConstMetric(m.desc, prom.GaugeValue, m.get(&s))
	}
	for _, m := range c.counts {
		ch <- prom.MustNewConstMetric(m.desc, prom.CounterValue, m.get(&s))
	}
}

var _ prom.Collector = (*ServerCollector)(nil)
