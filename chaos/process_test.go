package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
	"github.com/realtimekit/realtime/transport/sse"
	"github.com/realtimekit/realtime/transport/websocket"
)

// The same traffic as the mock rigs, against cmd/realtime-server running
// as a separate process: one client behind a proxy that cuts every
// connection again and again publishes "up" and receives "down"; a
// second client, direct, publishes "down" and receives "up". Each side
// must get every message of the other exactly once and in order.
func TestChaosAgainstServerProcess(t *testing.T) {
	bin := buildServer(t)
	for _, tc := range []struct {
		name string
		tr   transport.Transport
	}{{"websocket", websocket.Transport{}}, {"sse", sse.Transport{}}, {"longpoll", longpoll.Transport{}}} {
		t.Run(tc.name, func(t *testing.T) { chaosProcess(t, bin, tc.tr) })
	}
}

// buildServer builds cmd/realtime-server, a module of its own, with no
// deadline: a cold build takes what it takes.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "realtime-server")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "cmd", "realtime-server")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startServer runs the binary and returns its base URL.
func startServer(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-insecure-no-auth",
		"-heartbeat", heartbeat.String(), "-publish-rate", "-1", "-drain", "5s")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
			if os.Getenv("CHAOS_DEBUG") != "" {
				fmt.Fprintln(os.Stderr, sc.Text())
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(scaled(15 * time.Second)):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case <-done:
		t.Fatal("the server exited before listening")
	case <-time.After(scaled(20 * time.Second)):
		t.Fatal("the server did not start listening")
	}
	return ""
}

// cutter is a TCP proxy that can cut every connection through it at once.
type cutter struct {
	ln    net.Listener
	up    string
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	cuts  int
}

func newCutter(t *testing.T, upstream string) *cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, up: upstream, conns: make(map[net.Conn]struct{})}
	c.wg.Add(1)
	go c.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		c.cut()
		c.wg.Wait()
	})
	return c
}

func (c *cutter) serve() {
	defer c.wg.Done()
	for {
		down, err := c.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", c.up)
		if err != nil {
			_ = down.Close()
			continue
		}
		c.mu.Lock()
		c.conns[down], c.conns[up] = struct{}{}, struct{}{}
		c.mu.Unlock()
		c.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer c.wg.Done()
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
			c.mu.Lock()
			delete(c.conns, dst)
			delete(c.conns, src)
			c.mu.Unlock()
		}
		go pipe(up, down)
		go pipe(down, up)
	}
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for nc := range c.conns {
		_ = nc.Close()
	}
	c.cuts++
}

type received struct {
	mu      sync.Mutex
	got     []int
	changed chan struct{}
}

func (r *received) handle(m realtime.Message) {
	i, ok := index(m.Data)
	r.mu.Lock()
	if !ok {
		i = -1
	}
	r.got = append(r.got, i)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *received) wait(ctx context.Context, n int) []int {
	for {
		r.mu.Lock()
		got := append([]int(nil), r.got...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.changed:
		case <-ctx.Done():
			return got
		}
	}
}

func chaosProcess(t *testing.T, bin string, tr transport.Transport) {
	ctx, cancel := context.WithTimeout(context.Background(), scaled(90*time.Second))
	defer cancel()
	base := startServer(t, bin)
	cut := newCutter(t, base[len("http://"):])
	newClient := func(url string, rec *received, ch string) *realtime.Client {
		httpTr := &http.Transport{}
		t.Cleanup(httpTr.CloseIdleConnections)
		c, err := realtime.New(url, &realtime.Options{
			Transports:       []transport.Transport{tr},
			HandshakeTimeout: handshakeTimeout,
			HeartbeatGrace:   heartbeatGrace,
			HTTPClient:       &http.Client{Transport: httpTr},
			Reconnect:        reconnect.Policy{BaseDelay: baseDelay, MaxDelay: maxDelay},
			Logger:           debugLogger(),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Subscribe(ctx, ch, rec.handle); err != nil {
			t.Fatal(err)
		}
		return c
	}
	downRec := &received{changed: make(chan struct{}, 1)}
	upRec := &received{changed: make(chan struct{}, 1)}
	flaky := newClient("http://"+cut.ln.Addr().String(), downRec, downChannel)
	steady := newClient(base, upRec, upChannel)

	// Both directions flow from one loop, and every 100 messages the flaky
	// client's connections are cut with publishes of both in flight; the
	// loop goes on only once it has reconnected, so each cut is a real one.
	const n = 1000
	var lastUp, lastDown *realtime.Receipt
	send := func(c *realtime.Client, ch string, i int, last **realtime.Receipt) {
		r, err := c.PublishAsync(ch, payload(i))
		for err == realtime.ErrOutboxFull {
			if err = (*last).Wait(ctx); err != nil {
				t.Fatalf("%s %d: %v", ch, i, err)
			}
			r, err = c.PublishAsync(ch, payload(i))
		}
		if err != nil {
			t.Fatalf("publish %s %d: %v", ch, i, err)
		}
		*last = r
	}
	reconnects := 0
	for i := range n {
		send(flaky, upChannel, i, &lastUp)
		send(steady, downChannel, i, &lastDown)
		if i%100 == 50 {
			cut.cut()
			// Long polling may ride out a cut by retrying the request on
			// a new TCP connection, without losing its session's
			// connection: then there is no reconnect to wait for.
			wctx, wcancel := context.WithTimeout(ctx, scaled(3*time.Second))
			_, err := flaky.WaitForState(wctx, realtime.StateReconnecting)
			wcancel()
			if err == nil {
				if _, err := flaky.WaitForState(ctx, realtime.StateConnected); err != nil {
					t.Fatalf("no reconnect after cut %d: %v", cut.cuts, err)
				}
				reconnects++
			} else if tr.Name() != "longpoll" {
				t.Fatalf("cut %d not noticed", cut.cuts)
			}
		}
	}
	for _, r := range []*realtime.Receipt{lastUp, lastDown} {
		if err := r.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for name, r := range map[string]*received{"down (to the flaky client)": downRec, "up (from it)": upRec} {
		got := r.wait(ctx, n)
		lost, dup, reordered := countFaults(got, n)
		t.Logf("%s: %d received, %d lost, %d duplicated, %d reordered", name, len(got), lost, dup, reordered)
		if lost+dup+reordered != 0 || len(got) != n {
			t.Errorf("%s: %d lost, %d duplicated, %d reordered of %d", name, lost, dup, reordered, n)
		}
	}
	t.Logf("%d cuts, %d reconnects", cut.cuts, reconnects)
}

// countFaults counts what is missing, repeated and out of order in got, which
// should be 0..n-1.
func countFaults(got []int, n int) (lost, dup, reordered int) {
	seen := make(map[int]bool, n)
	prev := -1
	for _, i := range got {
		if seen[i] {
			dup++
			continue
		}
		seen[i] = true
		if i < prev {
			reordered++
		}
		prev = max(prev, i)
	}
	for i := range n {
		if !seen[i] {
			lost++
		}
	}
	return lost, dup, reordered
}

// scaled stretches d by REALTIME_TEST_TIMEOUT_SCALE, for slow machines.
func scaled(d time.Duration) time.Duration {
	if f, err := strconv.ParseFloat(os.Getenv("REALTIME_TEST_TIMEOUT_SCALE"), 64); err == nil && f > 1 {
		return time.Duration(float64(d) * f)
	}
	return d
}
