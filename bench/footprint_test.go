package bench

import (
	"bufio"
	"context"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/transport"
)

var (
	footprintClients = flag.Int("bench.clients", 1000, "idle clients the footprint benchmark connects")
	footprintProfile = flag.String("bench.heapprofile", "", "write a heap profile `prefix`-TRANSPORT.pprof while the footprint clients are connected")
)

// Footprint is what one idle connected client costs its process.
type Footprint struct {
	Bytes      float64 // heap in use plus goroutine stacks
	Goroutines float64
}

func liveBytes() (uint64, int) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse, runtime.NumGoroutine()
}

// startMockProcess runs the mock server in a child process, so that none of
// its memory or goroutines is counted against the clients.
func startMockProcess(tb testing.TB) (string, error) {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(exe, "-test.run", "^$")
	cmd.Env = append(os.Environ(), serveEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	tb.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	return strings.TrimSpace(line), err
}

// settle waits until the number of goroutines has not changed for 100 ms,
// or 5 s have passed: goroutines that are ending must not be counted.
func settle() {
	deadline := time.Now().Add(5 * time.Second)
	last, same := runtime.NumGoroutine(), 0
	for same < 10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if n := runtime.NumGoroutine(); n == last {
			same++
		} else {
			last, same = n, 0
		}
	}
}

// measureIdle connects n clients over tr to url and returns the cost of
// each: what the client adds to a process that already has an
// http.Transport (its connections, their buffers and goroutines, its own).
func measureIdle(tb testing.TB, url string, tr transport.Transport, n int) Footprint {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	// Each client gets its own http.Transport, as a process running one
	// client has, so its pooled connections are its own (clients sharing a
	// pool would reuse each other's idle connections, hiding their cost).
	// The transports are made and used once before the first measure: the
	// process has its http.Transport whether or not it runs a client.
	hcs := make([]*http.Client, n)
	for i := range hcs {
		ht := http.DefaultTransport.(*http.Transport).Clone()
		hcs[i] = &http.Client{Transport: ht}
		if resp, err := hcs[i].Get(url + "/"); err == nil {
			resp.Body.Close()
		}
		ht.CloseIdleConnections()
	}
	settle() // the closed connections' goroutines end
	bytes0, g0 := liveBytes()
	clients := make([]*realtime.Client, 0, n)
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
		for _, hc := range hcs {
			hc.CloseIdleConnections()
		}
	}()
	for i := range n {
		c, err := realtime.New(url, &realtime.Options{
			Transports:      []transport.Transport{tr},
			HTTPClient:      hcs[i],
			UpgradeInterval: -1,
		})
		if err != nil {
			tb.Fatal(err)
		}
		clients = append(clients, c)
		if err := c.Connect(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	// Let handshakes' short-lived goroutines and buffers finish.
	settle() // the handshakes' short-lived goroutines end
	bytes1, g1 := liveBytes()
	if *footprintProfile != "" {
		writeHeapProfile(tb, *footprintProfile+"-"+tr.Name()+".pprof")
	}
	return Footprint{
		Bytes:      (float64(bytes1) - float64(bytes0)) / float64(n),
		Goroutines: float64(g1-g0) / float64(n),
	}
}

// BenchmarkFootprint is a measurement, not a timing: run it with
// -benchtime 1x; b.N larger only repeats it.
func BenchmarkFootprint(b *testing.B) {
	for _, tr := range transports() {
		b.Run(tr.Name(), func(b *testing.B) {
			url, err := startMockProcess(b)
			if err != nil {
				b.Fatal(err)
			}
			var f Footprint
			for range b.N {
				f = measureIdle(b, url, tr, *footprintClients)
			}
			b.ReportMetric(f.Bytes, "bytes/client")
			b.ReportMetric(f.Goroutines, "goroutines/client")
		})
	}
}

// writeHeapProfile shows where the footprint goes, while it is there:
// go test's -memprofile is written after the clients have closed.
func writeHeapProfile(tb testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		tb.Fatal(err)
	}
}
