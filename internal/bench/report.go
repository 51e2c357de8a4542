package bench

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Results holds, for each benchmark name (without the GOMAXPROCS suffix),
// the metrics of each round, in the order the rounds ran.
type Results map[string][]map[string]float64

var procSuffix = regexp.MustCompile(`-\d+$`)

// Parse reads `go test -bench` output (plain, or the Output fields of
// -json joined back together) and collects every result line.
func Parse(r io.Reader) (Results, error) {
	res := Results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			m[f[i+1]] = v
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		res[name] = append(res[name], m)
	}
	return res, sc.Err()
}

// Stat is the spread of one metric over the rounds.
type Stat struct {
	Median, Min, Max float64
	N                int
}

// Stat returns the spread of unit over the rounds of name; N is zero when
// there is none.
func (r Results) Stat(name, unit string) Stat {
	var v []float64
	for _, m := range r[name] {
		if x, ok := m[unit]; ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Stat{}
	}
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Stat{Median: med, Min: v[0], Max: v[len(v)-1], N: len(v)}
}

// Row compares one SDK metric with one baseline metric, usually a raw
// transport, sometimes another SDK row (for the targets that are
// relative to WebSocket).
type Row struct {
	What      string
	SDK, Unit string
	Base      string
	BaseUnit  string // Unit when empty
}

// Rows are the comparisons of the table, in its order.
func Rows() []Row {
	var rows []Row
	add := func(what, sdk, unit, base, baseUnit string) {
		rows = append(rows, Row{What: what, SDK: sdk, Unit: unit, Base: base, BaseUnit: baseUnit})
	}
	for _, sz := range []string{"64", "1024"} {
		add("ws acked publish "+sz+" B", "PublishAcked/websocket/"+sz, "msgs/s", "Raw/ws-ack64/"+sz, "")
		add("ws acked publish "+sz+" B", "PublishAcked/websocket/"+sz, "msgs/s", "Raw/ws-oneway/"+sz, "")
	}
	for _, sz := range []string{"64", "1024"} {
		add("ws delivery "+sz+" B", "Deliver/websocket/"+sz, "msgs/s", "Raw/ws-oneway/"+sz, "")
	}
	for _, u := range []string{"p50-µs", "p99-µs"} {
		add("ws publish→ack "+u, "PublishLatency/websocket", u, "Raw/ws-echo/64", "")
	}
	for _, sz := range []string{"64", "1024"} {
		for _, u := range []string{"p50-µs", "p99-µs"} {
			add("ws delivery "+sz+" B "+u, "DeliverLatency/websocket/"+sz, u, "Raw/ws-oneway-lat/"+sz, "")
		}
	}
	for _, tr := range []struct{ name, raw, rawLat string }{
		{"sse", "Raw/sse/", "Raw/sse-lat/"},
		{"longpoll", "Raw/longpoll/", "Raw/longpoll-lat/"},
	} {
		for _, sz := range []string{"64", "1024"} {
			add(tr.name+" acked publish "+sz+" B", "PublishAcked/"+tr.name+"/"+sz, "msgs/s", "Raw/post/"+sz, "")
			add(tr.name+" acked publish "+sz+" B", "PublishAcked/"+tr.name+"/"+sz, "msgs/s", "PublishAcked/websocket/"+sz, "")
		}
		for _, sz := range []string{"64", "1024"} {
			add(tr.name+" delivery "+sz+" B", "Deliver/"+tr.name+"/"+sz, "msgs/s", tr.raw+sz, "")
		}
		for _, u := range []string{"p50-µs", "p99-µs"} {
			add(tr.name+" publish→ack "+u, "PublishLatency/"+tr.name, u, "Raw/post/64", "")
		}
		for _, sz := range []string{"64", "1024"} {
			for _, u := range []string{"p50-µs", "p99-µs"} {
				add(tr.name+" delivery "+sz+" B "+u, "DeliverLatency/"+tr.name+"/"+sz, u, tr.rawLat+sz, "")
			}
		}
	}
	return rows
}

func fmtStat(s Stat) string {
	if s.N == 0 {
		return "—"
	}
	if s.N == 1 {
		return num(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.Median), num(s.Min), num(s.Max))
}

func num(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// Table writes rows as Markdown. Missing lists every benchmark a row
// needed that had no result, so that a harness can fail on it.
func (r Results) Table(w io.Writer, rows []Row) (missing []string) {
	fmt.Fprintln(w, "| What | SDK benchmark | SDK median (min–max) | Baseline | Baseline median (min–max) | SDK/baseline |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, row := range rows {
		bu := row.BaseUnit
		if bu == "" {
			bu = row.Unit
		}
		s, b := r.Stat("Benchmark"+row.SDK, row.Unit), r.Stat("Benchmark"+row.Base, bu)
		if s.N == 0 {
			missing = append(missing, row.SDK+" "+row.Unit)
		}
		if b.N == 0 {
			missing = append(missing, row.Base+" "+bu)
		}
		ratio := "—"
		if s.N > 0 && b.N > 0 && b.Median != 0 {
			ratio = fmt.Sprintf("%.2fx", s.Median/b.Median)
		}
		fmt.Fprintf(w, "| %s | %s | %s %s | %s | %s | %s |\n", row.What, row.SDK, fmtStat(s), row.Unit, row.Base, fmtStat(b), ratio)
	}
	slices.Sort(missing)
	return slices.Compact(missing)
}

// FootprintTable writes the per-client footprint of each transport, beside
// that of the raw client of the same transport (BenchmarkFootprint/raw-*).
func (r Results) FootprintTable(w io.Writer, transports []string) (missing []string) {
	fmt.Fprintln(w, "| Transport | SDK bytes/client (heap+stack) | SDK KiB | SDK goroutines | raw bytes/client | raw KiB | raw goroutines | SDK/raw |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, tr := range transports {
		sdk, raw := "BenchmarkFootprint/"+tr, "BenchmarkFootprint/raw-"+tr
		b, g := r.Stat(sdk, "bytes/client"), r.Stat(sdk, "goroutines/client")
		rb, rg := r.Stat(raw, "bytes/client"), r.Stat(raw, "goroutines/client")
		if b.N == 0 || g.N == 0 {
			missing = append(missing, sdk)
		}
		if rb.N == 0 || rg.N == 0 {
			missing = append(missing, raw)
		}
		if b.N == 0 || rb.N == 0 {
			continue
		}
		ratio := "—"
		if rb.Median != 0 {
			ratio = fmt.Sprintf("%.2fx", b.Median/rb.Median)
		}
		fmt.Fprintf(w, "| %s | %s | %.1f | %s | %s | %.1f | %s | %s |\n",
			tr, fmtStat(b), b.Median/1024, fmtStat(g), fmtStat(rb), rb.Median/1024, fmtStat(rg), ratio)
	}
	return missing
}

// FanOutTable writes BenchmarkFanOut's server rows beside the raw
// WebSocket broadcast loop's of the same pacing.
func (r Results) FanOutTable(w io.Writer) (missing []string) {
	fmt.Fprintln(w, "| Run | server | raw loop | server/raw |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, pace := range []string{"", "-50/s"} {
		srv, raw := "BenchmarkFanOut/server"+pace, "BenchmarkFanOut/raw-websocket"+pace
		for _, unit := range []string{"deliveries/s", "p50-µs", "p99-µs", "conns/GiB"} {
			a, b := r.Stat(srv, unit), r.Stat(raw, unit)
			if a.N == 0 {
				missing = append(missing, srv)
			}
			if b.N == 0 {
				missing = append(missing, raw)
			}
			if a.N == 0 || b.N == 0 {
				continue
			}
			ratio := "—"
			if b.Median != 0 {
				ratio = fmt.Sprintf("%.2fx", a.Median/b.Median)
			}
			label := "unpaced"
			if pace != "" {
				label = "50 msgs/s"
			}
			fmt.Fprintf(w, "| %s %s | %s | %s | %s |\n", label, unit, fmtStat(a), fmtStat(b), ratio)
		}
	}
	slices.Sort(missing)
	return slices.Compact(missing)
}
