package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
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

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime"
)

// binary is the command, built once for every test that runs it.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "realtime-server-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "realtime-server")
	// No deadline: a cold build on a busy machine takes what it takes. The
	// binary is for the machine itself, even when these tests run under
	// qemu for another architecture: it is executed directly, not emulated.
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "GOOS="+goEnv("GOHOSTOS"), "GOARCH="+goEnv("GOHOSTARCH"), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("build: " + err.Error() + "\n" + string(out))
	}
	code := 0
	func() {
		defer func() { os.RemoveAll(dir) }()
		goleak.VerifyTestMain(exitRecorder{&code, m})
	}()
	os.Exit(code)
}

// goEnv returns a go env variable, such as the machine's own GOHOSTARCH,
// which differs from GOARCH when the tests run under qemu.
func goEnv(name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		panic("go env " + name + ": " + err.Error())
	}
	return strings.TrimSpace(string(out))
}

// exitRecorder lets TestMain clean up after goleak's run.
type exitRecorder struct {
	code *int
	m    *testing.M
}

func (e exitRecorder) Run() int { *e.code = e.m.Run(); return *e.code }

// proc is a running realtime-server.
type proc struct {
	cmd   *exec.Cmd
	addr  string
	mu    sync.Mutex
	log   strings.Builder
	lines chan map[string]any
	done  chan struct{} // closed once the process has exited
	err   error         // its exit, once done is closed
}

// startBinary runs the command with args, and waits for its listening
// record.
func startBinary(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"-addr", "127.0.0.1:0", "-log-level", "debug"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan map[string]any, 1024), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				select {
				case p.lines <- rec:
				default:
				}
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(scaled(10 * time.Second)):
		}
	})
	deadline := time.After(scaled(20 * time.Second))
	for {
		select {
		case rec := <-p.lines:
			if rec["msg"] == "listening" {
				p.addr, _ = rec["addr"].(string)
				return p
			}
		case <-deadline:
			t.Fatalf("no listening record; log:\n%s", p.logText())
		}
	}
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func TestBinaryServesAndDrainsOnSIGTERM(t *testing.T) {
	const token = "s3cret-token-of-ann-0123456789"
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("# token subject channels\n"+token+" ann room:*\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, "-token-file", tokens, "-drain", "10s")
	base := "http://" + p.addr
	ctx, cancel := context.WithTimeout(context.Background(), scaled(30*time.Second))
	defer cancel()

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}

	changes := make(chan realtime.StateChange, 64)
	client, err := realtime.New(base, &realtime.Options{
		Token:         func(context.Context) (string, error) { return token, nil },
		OnStateChange: func(c realtime.StateChange) { changes <- c },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	var refused *realtime.RefusedError
	if err := client.Publish(ctx, "admin", []byte("x")); !errors.As(err, &refused) || refused.Code != 4003 {
		t.Fatalf("publish outside the grant: %v, want *RefusedError 4003", err)
	}
	if err := client.Publish(ctx, "room:1", []byte("x")); err != nil {
		t.Fatal(err)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The client is told why it must go: error 1001 with a reason.
	for told := false; !told; {
		select {
		case c := <-changes:
			var se *realtime.ServerError
			if errors.As(c.Err, &se) {
				if se.Code != 1001 || !strings.Contains(se.Reason, "shutting down") {
					t.Fatalf("server error %d %q, want 1001 shutting down", se.Code, se.Reason)
				}
				told = true
			}
		case <-ctx.Done():
			t.Fatalf("client not told of the drain; log:\n%s", p.logText())
		}
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("exit: %v; log:\n%s", p.err, p.logText())
		}
	case <-ctx.Done():
		t.Fatal("did not exit after SIGTERM")
	}
	if strings.Contains(p.logText(), token) {
		t.Fatal("the token appears in the log")
	}
	if !strings.Contains(p.logText(), `"msg":"stopped"`) {
		t.Fatalf("no stopped record; log:\n%s", p.logText())
	}
}

func TestBinaryRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{}, // no authentication chosen
		{"-tls-cert", "x.pem", "-insecure-no-auth"}, // cert without key
		{"-jwt-secret-file", "/nonexistent"},
		{"-insecure-no-auth", "-node", "a_b"}, // '_' ends an id's node prefix
		{"-insecure-no-auth", "-nats", "nats://127.0.0.1:1", "-nats-replicas", "0"},
	} {
		cmd := exec.Command(binary, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("%v: %v, want a failed exit; output %s", args, err, out)
		}
	}
}

// A client that never finishes its headers is cut off after
// -header-timeout, and one with oversized headers is refused, while the
// server goes on serving.
func TestBinaryHeaderBounds(t *testing.T) {
	p := startBinary(t, "-insecure-no-auth", "-header-timeout", "300ms")
	nc, err := net.DialTimeout("tcp", p.addr, scaled(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(scaled(10 * time.Second)))
	buf := make([]byte, 512)
	for {
		if _, err := nc.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("a connection with unfinished headers was not cut off")
			}
			break // closed by the server (after a 408, if any)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+"/ws?v=1", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB of headers: %d, want 431", resp.StatusCode)
	}
	resp, err = http.Get("http://" + p.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz after the bounds: %d", resp.StatusCode)
	}
}
