// Package prometheus exports a realtime Client's Stats to Prometheus: a
// prometheus.Collector that reads Client.Stats on every scrape, so the
// client pays nothing between scrapes and the SDK itself imports no
// metrics library.
//
// The metrics, all prefixed realtime_client_:
//
//	connects_total, disconnects_total, upgrades_total, continuity_lost_total
//	publishes_total{result="acked|refused|failed"}
//	messages_published_total, messages_delivered_total, messages_resent_total,
//	messages_duplicate_total, messages_dropped_stale_total
//	published_bytes_total, delivered_bytes_total, bytes_sent_total, bytes_received_total
//	ack_latency_seconds (histogram, the buckets of realtime.LatencyBuckets)
//	outbox_messages, outbox_bytes, inbox_messages, inbox_bytes (gauges)
//	state{state="idle|connecting|connected|..."} (1 for the current state)
package prometheus

import (
	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/realtimekit/realtime"
)

// StatsSource is what a Collector reads; *realtime.Client is one.
type StatsSource interface {
	Stats() realtime.Stats
}

// states are every connection state, for the state gauge.
var states = []realtime.State{
	realtime.StateIdle, realtime.StateConnecting, realtime.StateConnected, realtime.StateReconnecting,
	realtime.StateSuspended, realtime.StateClosed, realtime.StateFailed,
}

// Collector is a prometheus.Collector over one client's Stats. Register
// one per client; ConstLabels (for example a client name) tell several
// apart. It is safe for concurrent scrapes.
type Collector struct {
	src     StatsSource
	buckets []float64 // realtime.LatencyBuckets in seconds

	counters   []counter
	publishes  *prom.Desc
	latency    *prom.Desc
	outboxMsgs *prom.Desc
	outboxB    *prom.Desc
	inboxMsgs  *prom.Desc
	inboxB     *prom.Desc
	state      *prom.Desc
}

// counter is one plain counter and how to read it from Stats.
type counter struct {
	desc *prom.Desc
	get  func(*realtime.Stats) uint64
}

// NewCollector returns a Collector reading src's Stats on each scrape;
// constLabels (nil for none) are added to every metric.
func NewCollector(src StatsSource, constLabels prom.Labels) *Collector {
	d := func(name, help string, labels ...string) *prom.Desc {
		return prom.NewDesc("realtime_client_"+name, help, labels, constLabels)
	}
	c := &Collector{src: src}
	for _, b := range realtime.LatencyBuckets {
		c.buckets = append(c.buckets, b.Seconds())
	}
	add := func(name, help string, get func(*realtime.Stats) uint64) {
		c.counters = append(c.counters, counter{d(name, help), get})
	}
	add("connects_total", "Connections established, first and re-.", func(s *realtime.Stats) uint64 { return s.Connects })
	add("disconnects_total", "Connections lost (not counting Close).", func(s *realtime.Stats) uint64 { return s.Disconnects })
	add("upgrades_total", "Live sessions moved onto a better transport.", func(s *realtime.Stats) uint64 { return s.Upgrades })
	add("continuity_lost_total", "Reconnects whose session the server did not resume.", func(s *realtime.Stats) uint64 { return s.ContinuityLost })
	add("messages_published_total", "Publishes accepted into the outbox.", func(s *realtime.Stats) uint64 { return s.Published })
	add("messages_delivered_total", "Messages handed to a handler.", func(s *realtime.Stats) uint64 { return s.Delivered })
	add("messages_resent_total", "Sequenced frames sent again after a reconnect.", func(s *realtime.Stats) uint64 { return s.Resent })
	add("messages_duplicate_total", "Server messages dropped as already seen.", func(s *realtime.Stats) uint64 { return s.Duplicates })
	add("messages_dropped_stale_total", "Messages dropped unhandled with a session the server did not resume.", func(s *realtime.Stats) uint64 { return s.DroppedStale })
	add("published_bytes_total", "Payload bytes of the publishes accepted.", func(s *realtime.Stats) uint64 { return s.PublishedBytes })
	add("delivered_bytes_total", "Payload bytes of the messages handed to a handler.", func(s *realtime.Stats) uint64 { return s.DeliveredBytes })
	add("bytes_sent_total", "Encoded bytes of the messages sent on live connections.", func(s *realtime.Stats) uint64 { return s.BytesSent })
	add("bytes_received_total", "Encoded bytes of the messages received on live connections.", func(s *realtime.Stats) uint64 { return s.BytesReceived })
	c.publishes = d("publishes_total", "Publishes settled, by result: acked by the server, refused by it, or failed locally.", "result")
	c.latency = d("ack_latency_seconds", "Time from publish to the server's acknowledgement.")
	c.outboxMsgs = d("outbox_messages", "Messages queued or awaiting acknowledgement.")
	c.outboxB = d("outbox_bytes", "Payload and channel bytes of the outbox's messages.")
	c.inboxMsgs = d("inbox_messages", "Messages waiting for their handler.")
	c.inboxB = d("inbox_bytes", "Payload bytes of the messages waiting for their handler.")
	c.state = d("state", "The connection state: 1 for the current one, 0 for the others.", "state")
	return c
}

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prom.Desc) {
	for _, m := range c.counters {
		ch <- m.desc
	}
	for _, d := range []*prom.Desc{c.publishes, c.latency, c.outboxMsgs, c.outboxB, c.inboxMsgs, c.inboxB, c.state} {
		ch <- d
	}
}

// Collect reads the client's Stats once and sends every metric from it.
func (c *Collector) Collect(ch chan<- prom.Metric) {
	s := c.src.Stats()
	for _, m := range c.counters {
		ch <- prom.MustNewConstMetric(m.desc, prom.CounterValue, float64(m.get(&s)))
	}
	ch <- prom.MustNewConstMetric(c.publishes, prom.CounterValue, float64(s.Acked), "acked")
	ch <- prom.MustNewConstMetric(c.publishes, prom.CounterValue, float64(s.Refused), "refused")
	ch <- prom.MustNewConstMetric(c.publishes, prom.CounterValue, float64(s.Failed), "failed")

	// Prometheus buckets are cumulative; AckLatency's are not, and its last
	// entry (slower than every bound) lands only in +Inf, the count.
	cum := make(map[float64]uint64, len(c.buckets))
	var n uint64
	for i, b := range c.buckets {
		n += s.AckLatency[i]
		cum[b] = n
	}
	n += s.AckLatency[len(c.buckets)]
	ch <- prom.MustNewConstHistogram(c.latency, n, s.AckLatencySum.Seconds(), cum)

	ch <- prom.MustNewConstMetric(c.outboxMsgs, prom.GaugeValue, float64(s.OutboxCount))
	ch <- prom.MustNewConstMetric(c.outboxB, prom.GaugeValue, float64(s.OutboxBytes))
	ch <- prom.MustNewConstMetric(c.inboxMsgs, prom.GaugeValue, float64(s.InboxCount))
	ch <- prom.MustNewConstMetric(c.inboxB, prom.GaugeValue, float64(s.InboxBytes))
	for _, st := range states {
		v := 0.0
		if st == s.State {
			v = 1
		}
		ch <- prom.MustNewConstMetric(c.state, prom.GaugeValue, v, st.String())
	}
}

var _ prom.Collector = (*Collector)(nil)
