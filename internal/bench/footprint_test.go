package bench

import (
	"bufio"
	"context"
	"flag"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

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
func startMockProcess(tb testing.TB) (mockURL, rawURL string, err error) {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		return "", "", err
	}
	cmd := exec.Command(exe, "-test.run", "^$")
	cmd.Env = append(os.Environ(), serveEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", "", err
	}
	if err := cmd.Start(); err != nil {
		return "", "", err
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
	br := bufio.NewReader(stdout)
	if mockURL, err = br.ReadString('\n'); err != nil {
		return "", "", err
	}
	rawURL, err = br.ReadString('\n')
	return strings.TrimSpace(mockURL), strings.TrimSpace(rawURL), err
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

// measureIdle connects n clients, each made by connect with an HTTP client
// of its own, and returns the cost of each: what it adds to a process that
// already has an http.Transport (its connections, their buffers and
// goroutines, its own state). connect returns the client's closer.
func measureIdle(tb testing.TB, url, name string, n int, connect func(ctx context.Context, hc *http.Client) (func(), error)) Footprint {
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
	closers := make([]func(), 0, n)
	defer func() {
		for _, c := range closers {
			c()
		}
		for _, hc := range hcs {
			hc.CloseIdleConnections()
		}
	}()
	for i := range n {
		c, err := connect(ctx, hcs[i])
		if err != nil {
			tb.Fatal(err)
		}
		closers = append(closers, c)
	}
	settle() // the handshakes' short-lived goroutines end
	bytes1, g1 := liveBytes()
	if *footprintProfile != "" {
		writeHeapProfile(tb, *footprintProfile+"-"+name+".pprof")
	}
	return Footprint{
		Bytes:      (float64(bytes1) - float64(bytes0)) / float64(n),
		Goroutines: float64(g1-g0) / float64(n),
	}
}

// sdkClient connects a realtime.Client limited to tr, upgrades off, and
// subscribes it to one channel: the realistic idle client is one waiting
// for messages, and a subscription costs its handler, its server-side
// state and the stack the subscribe round trip leaves grown.
func sdkClient(url string, tr transport.Transport) func(context.Context, *http.Client) (func(), error) {
	return func(ctx context.Context, hc *http.Client) (func(), error) {
		c, err := realtime.New(url, &realtime.Options{
			Transports:      []transport.Transport{tr},
			HTTPClient:      hc,
			UpgradeInterval: -1,
		})
		if err != nil {
			return nil, err
		}
		if err := c.Connect(ctx); err != nil {
			c.Close()
			return nil, err
		}
		if _, err := c.Subscribe(ctx, "idle", func(realtime.Message) {}); err != nil {
			c.Close()
			return nil, err
		}
		return func() { _ = c.Close() }, nil
	}
}

// Raw idle clients: the least a hand-written client of each transport
// holds to receive at any moment and to send. Each has a goroutine reading
// (a client must read to see pings or the end); the HTTP ones also keep
// the pooled connection of one POST, as a client that has sent anything
// does.

func rawWSClient(url string) func(context.Context, *http.Client) (func(), error) {
	return func(ctx context.Context, hc *http.Client) (func(), error) {
		c, _, err := websocket.Dial(ctx, url+"/ws", &websocket.DialOptions{HTTPClient: hc})
		if err != nil {
			return nil, err
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		return func() { _ = c.CloseNow(); <-done }, nil
	}
}

func rawSSEClient(url string) func(context.Context, *http.Client) (func(), error) {
	return func(ctx context.Context, hc *http.Client) (func(), error) {
		sctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(sctx, http.MethodGet, url+"/sse", nil)
		if err != nil {
			cancel()
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			cancel()
			return nil, err
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			for {
				if _, err := br.ReadSlice('\n'); err != nil && err != bufio.ErrBufferFull {
					return
				}
			}
		}()
		// While the stream holds one connection: a POST needs another.
		if err := Post(ctx, hc, url+"/post", []byte("x")); err != nil {
			cancel()
			<-done
			return nil, err
		}
		return func() { cancel(); <-done }, nil
	}
}

func rawLongPollClient(url string) func(context.Context, *http.Client) (func(), error) {
	return func(ctx context.Context, hc *http.Client) (func(), error) {
		polling := make(chan struct{}, 1)
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
			select {
			case polling <- struct{}{}:
			default:
			}
		}}
		pctx, cancel := context.WithCancel(httptrace.WithClientTrace(context.Background(), trace))
		done := make(chan struct{})
		go func() {
			defer close(done)
			for pctx.Err() == nil {
				if _, err := Poll(pctx, hc, url+"/poll", func([]byte) {}); err != nil {
					return
				}
			}
		}()
		// While a poll holds one connection: a POST needs another.
		var err error
		select {
		case <-polling:
			err = Post(ctx, hc, url+"/post", []byte("x"))
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			cancel()
			<-done
			return nil, err
		}
		return func() { cancel(); <-done }, nil
	}
}

// BenchmarkFootprint is a measurement, not a timing: run it with
// -benchtime 1x; b.N larger only repeats it. Each transport is measured
// for the SDK and for the raw client of the same transport.
func BenchmarkFootprint(b *testing.B) {
	for _, tr := range transports() {
		raw := map[string]func(string) func(context.Context, *http.Client) (func(), error){
			"websocket": rawWSClient, "sse": rawSSEClient, "longpoll": rawLongPollClient,
		}[tr.Name()]
		for _, kind := range []string{"", "raw-"} {
			name := kind + tr.Name()
			b.Run(name, func(b *testing.B) {
				mockURL, rawURL, err := startMockProcess(b)
				if err != nil {
					b.Fatal(err)
				}
				connect := sdkClient(mockURL, tr)
				if kind != "" {
					connect = raw(rawURL)
				}
				var f Footprint
				for range b.N {
					f = measureIdle(b, mockURL, name, *footprintClients, connect)
				}
				b.ReportMetric(f.Bytes, "bytes/client")
				b.ReportMetric(f.Goroutines, "goroutines/client")
			})
		}
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
