package bench

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/realtimekit/realtime/mock"
)

// TestHarness runs every raw and SDK path a few times, so that the code the
// benchmarks rely on is covered by the ordinary (and -race) test run.
func TestHarness(t *testing.T) {
	// A fixed, tiny N keeps this a test of code paths, not of speed.
	old := flag.Lookup("test.benchtime").Value.String()
	if err := flag.Set("test.benchtime", "3x"); err != nil {
		t.Fatal(err)
	}
	defer flag.Set("test.benchtime", old)
	res := testing.Benchmark(func(b *testing.B) {
		b.Run("all", func(b *testing.B) {
			for _, f := range []func(*testing.B){
				BenchmarkRaw, BenchmarkPublishAcked, BenchmarkPublishLatency,
				BenchmarkDeliver, BenchmarkDeliverLatency,
			} {
				f(b)
			}
		})
	})
	if res.N == 0 {
		t.Fatal("the benchmarks failed; run them with go test -bench to see why")
	}
}

func TestFootprint(t *testing.T) {
	url, rawURL, err := startMockProcess(t)
	if errors.Is(err, syscall.ENOEXEC) {
		// Under qemu-user without binfmt_misc the test binary cannot
		// exec itself; the measurement's code paths are the same.
		t.Logf("cannot run the servers in a child process (%v); serving them in this one", err)
		srv := mock.NewServer(nil)
		t.Cleanup(srv.Close)
		url = srv.URL()
		raw, err := Serve(rawIdleMux())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(raw.Close)
		rawURL = raw.URL
	} else if err != nil {
		t.Fatal(err)
	}
	raws := map[string]func(string) func(context.Context, *http.Client) (func(), error){
		"websocket": rawWSClient, "sse": rawSSEClient, "longpoll": rawLongPollClient,
	}
	for _, tr := range transports() {
		for name, connect := range map[string]func(context.Context, *http.Client) (func(), error){
			tr.Name():          sdkClient(url, tr),
			"raw-" + tr.Name(): raws[tr.Name()](rawURL),
		} {
			f := measureIdle(t, url, name, 5, connect)
			if f.Goroutines <= 0 {
				t.Errorf("%s: %v goroutines per client; an idle client has at least its reader", name, f.Goroutines)
			}
		}
	}
}

func TestLatencies(t *testing.T) {
	l := NewLatencies(100)
	for i := 100; i >= 1; i-- {
		l.Add(time.Duration(i) * time.Microsecond)
	}
	if p := l.Percentile(50); p != 50*time.Microsecond {
		t.Errorf("p50 = %v, want 50µs", p)
	}
	if p := l.Percentile(99); p != 99*time.Microsecond {
		t.Errorf("p99 = %v, want 99µs", p)
	}
	p := Payload(64)
	if d, err := Since(p); err != nil || d < 0 || d > time.Minute {
		t.Errorf("Since(Payload) = %v, %v", d, err)
	}
}

func TestParseAndTable(t *testing.T) {
	out := `goos: linux
BenchmarkPublishAcked/websocket/64-2   200   5185 ns/op   12.34 MB/s   100 msgs/s
BenchmarkPublishAcked/websocket/64-2   200   5185 ns/op   12.34 MB/s   300 msgs/s
BenchmarkPublishAcked/websocket/64-2   200   5185 ns/op   12.34 MB/s   200 msgs/s
BenchmarkRaw/ws-ack64/64               200   11754 ns/op  5.44 MB/s    400 msgs/s
BenchmarkFootprint/websocket-2 1 9 ns/op 20480 bytes/client 2 goroutines/client
BenchmarkFootprint/raw-websocket-2 1 9 ns/op 10240 bytes/client 1 goroutines/client
PASS
`
	res, err := Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	s := res.Stat("BenchmarkPublishAcked/websocket/64", "msgs/s")
	if s != (Stat{Median: 200, Min: 100, Max: 300, N: 3}) {
		t.Errorf("stat = %+v", s)
	}
	var sb strings.Builder
	missing := res.Table(&sb, Rows()[:1])
	if len(missing) != 0 || !strings.Contains(sb.String(), "| 0.50x |") {
		t.Errorf("missing %v, table:\n%s", missing, sb.String())
	}
	sb.Reset()
	if m := res.FootprintTable(&sb, []string{"websocket"}); len(m) != 0 || !strings.Contains(sb.String(), "| 20.0 |") || !strings.Contains(sb.String(), "| 2.00x |") {
		t.Errorf("missing %v, table:\n%s", m, sb.String())
	}
}
