package bench

import (
	"fmt"
	"io"
	"slices"
)

// ClusterTable writes the benchmarks of server/natsbroker: server nodes on
// NATS JetStream beside raw NATS core publish→subscribe measured in the
// same run, the fan-out over 3 nodes and the cost of a resume on another
// node. Latencies are in µs.
func (r Results) ClusterTable(w io.Writer) (missing []string) {
	type row struct {
		label, name, unit string
		scale             float64
		raw               bool // beside raw NATS core latency of the same percentile
	}
	rows := []row{
		{"cross-node publish→delivery p50, µs", "BenchmarkClusterCrossNode", "p50-µs", 1, true},
		{"cross-node publish→delivery p99, µs", "BenchmarkClusterCrossNode", "p99-µs", 1, true},
		{"JetStream publish→ordered consumer p50, µs (the engine alone)", "BenchmarkLatencyJetStreamOrdered", "p50-ns", 1e-3, true},
		{"Broker publish→delivery across 2 nodes p50, µs", "BenchmarkLatencyBroker", "p50-ns", 1e-3, true},
		{"fan-out 1→1,000 over 3 nodes, deliveries/s", "BenchmarkClusterFanOut", "deliveries/s", 1, false},
		{"fan-out: publish→last delivery p50, µs", "BenchmarkClusterFanOut", "p50-µs", 1, false},
		{"fan-out: publish→last delivery p99, µs", "BenchmarkClusterFanOut", "p99-µs", 1, false},
		{"resume on another node (cut→resumed) p50, µs", "BenchmarkClusterResume", "p50-µs", 1, false},
		{"resume on another node (cut→resumed) p99, µs", "BenchmarkClusterResume", "p99-µs", 1, false},
	}
	scaled := func(s Stat, f float64) Stat {
		return Stat{Median: s.Median * f, Min: s.Min * f, Max: s.Max * f, N: s.N}
	}
	fmt.Fprintln(w, "| Row | nodes | raw NATS core | nodes/raw |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, x := range rows {
		a := scaled(r.Stat(x.name, x.unit), x.scale)
		if a.N == 0 {
			missing = append(missing, x.name)
			continue
		}
		raw, ratio := "—", "—"
		if x.raw {
			pct := x.unit[:3] // p50 or p99
			b := scaled(r.Stat("BenchmarkLatencyCoreNATS", pct+"-ns"), 1e-3)
			if b.N == 0 {
				missing = append(missing, "BenchmarkLatencyCoreNATS")
				continue
			}
			raw = fmtStat(b)
			if b.Median != 0 {
				ratio = fmt.Sprintf("%.1fx", a.Median/b.Median)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", x.label, fmtStat(a), raw, ratio)
	}
	slices.Sort(missing)
	return slices.Compact(missing)
}
