package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a program the test runs, restartable, its output in a file.
type proc struct {
	name string
	args []string
	log  string // file of its stdout and stderr, appended across restarts

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	ready chan struct{} // closed when a "listening" record is seen (realtime-server)
}

func newProc(t *testing.T, dir, name string, args ...string) *proc {
	p := &proc{name: name, args: args, log: filepath.Join(dir, name+".log")}
	t.Cleanup(p.kill)
	return p
}

// start runs the program once more.
func (p *proc) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(p.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Stdout = f
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("%s: %v", p.name, err)
	}
	done, ready := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		defer f.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		seen := false
		for sc.Scan() {
			fmt.Fprintln(f, sc.Text())
			var rec struct{ Msg string }
			if !seen && json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				seen = true
				close(ready)
			}
		}
		_ = cmd.Wait()
	}()
	p.mu.Lock()
	p.cmd, p.done, p.ready = cmd, done, ready
	p.mu.Unlock()
}

// kill ends the program with SIGKILL and waits for it.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// waitListening waits for a realtime-server's "listening" record.
func (p *proc) waitListening(ctx context.Context) error {
	p.mu.Lock()
	ready, done := p.ready, p.done
	p.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-done:
		return fmt.Errorf("%s exited: %s", p.name, tail(p.log))
	case <-ctx.Done():
		return fmt.Errorf("%s not listening: %w", p.name, ctx.Err())
	}
}

// waitHTTP waits until GET url answers 200.
func waitHTTP(ctx context.Context, url string) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %v)", url, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond): // polling a condition, bounded by ctx
		}
	}
}

// tail returns the end of a log file, for failure messages.
func tail(file string) string {
	b, _ := os.ReadFile(file)
	s := string(b)
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return strings.TrimSpace(s)
}
