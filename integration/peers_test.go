//go:build linux

package integration

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Bounds on a proxy's life: generous enough for a loaded CI machine, short
// enough that a proxy that never comes up fails the test instead of hanging it.
const (
	startDeadline = 10 * time.Second
	stopDeadline  = 15 * time.Second
	startTries    = 3
)

// requirePeer returns the path of binary, or ends the test: a skip on a
// developer's machine without it, a failure in CI, where a skipped
// integration test would look like a passing one.
func requirePeer(t *testing.T, binary string) string {
	t.Helper()
	if p, err := exec.LookPath(binary); err == nil {
		return p
	}
	// Debian installs these daemons in sbin, which a non-root PATH lacks.
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, binary)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv("REALTIME_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s not installed and REALTIME_REQUIRE_PEERS=1: run .ci/install-peers.sh", binary)
	}
	t.Skipf("%s not installed: run .ci/install-peers.sh", binary)
	return ""
}

// proxy is a proxy binary running as a child of the test.
type proxy struct {
	name string
	addr string // 127.0.0.1:port it accepts connections on
	dir  string // its configuration, logs and temporary files
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been reaped
}

// proxyConfig describes how to run one proxy.
type proxyConfig struct {
	binary string
	owner  string                        // user the proxy drops to when run as root; it must own dir
	config func(dir, addr string) string // the configuration file's text
	file   string                        // the configuration file's name in dir
	args   func(conf string) []string
	stop   syscall.Signal // the graceful stop signal
}

// startProxy runs a proxy on a free port of 127.0.0.1 and waits until it
// accepts connections. A port found free can be taken by another process
// before the proxy binds it (other test binaries run alongside), so a proxy
// that exits before listening is retried on a new port.
func startProxy(t *testing.T, pc proxyConfig) *proxy {
	t.Helper()
	path := requirePeer(t, pc.binary)
	dir := t.TempDir()
	uid, gid := ownerIDs(t, pc.owner)
	if uid >= 0 {
		// t.TempDir's parent is 0700; the proxy's unprivileged processes
		// must still reach their logs and temporary files below it.
		if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	var lastErr error
	for try := 0; try < startTries; try++ {
		addr := freeAddr(t)
		conf := filepath.Join(dir, pc.file)
		if err := os.WriteFile(conf, []byte(pc.config(dir, addr)), 0o644); err != nil {
			t.Fatal(err)
		}
		if uid >= 0 {
			chownTree(t, dir, uid, gid)
		}
		p, err := launch(t, pc, path, dir, addr, conf)
		if err == nil {
			return p
		}
		lastErr = err
	}
	t.Fatalf("%s did not start in %d tries: %v", pc.binary, startTries, lastErr)
	return nil
}

func launch(t *testing.T, pc proxyConfig, path, dir, addr, conf string) (*proxy, error) {
	out, err := os.Create(filepath.Join(dir, pc.binary+".out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(path, pc.args(conf)...)
	cmd.Dir = dir
	// A file, not a pipe: with a pipe, Wait would also wait for any
	// grandchild (nginx's workers) still holding it.
	cmd.Stdout, cmd.Stderr = out, out
	// A test binary that dies without its cleanups must not leave a proxy
	// holding a port behind it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", pc.binary, err)
	}
	p := &proxy{name: pc.binary, addr: addr, dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitListening(startDeadline); err != nil {
		p.stop(t, syscall.SIGKILL)
		return nil, fmt.Errorf("%w\n%s", err, p.logs())
	}
	t.Cleanup(func() { p.stop(t, pc.stop) })
	return p, nil
}

// waitListening waits until the proxy accepts a TCP connection, exits, or
// d passes.
func (p *proxy) waitListening(d time.Duration) error {
	deadline := time.Now().Add(d)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		c, err := net.DialTimeout("tcp", p.addr, 250*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting on %s after %s: %v", p.name, p.addr, d, err)
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before accepting on %s: %v", p.name, p.addr, p.cmd.ProcessState)
		case <-poll.C:
		}
	}
}

// stop signals the proxy by its PID and reaps it, killing it if it has not
// gone within stopDeadline.
func (p *proxy) stop(t *testing.T, sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("signal %s (pid %d): %v", p.name, p.cmd.Process.Pid, err)
	}
	timer := time.NewTimer(stopDeadline)
	defer timer.Stop()
	select {
	case <-p.done:
		t.Logf("%s (pid %d) stopped by %s in %s", p.name, p.cmd.Process.Pid, sig, time.Since(start).Round(time.Millisecond))
	case <-timer.C:
		t.Errorf("%s (pid %d) still running %s after %s: killing it", p.name, p.cmd.Process.Pid, stopDeadline, sig)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// logs returns what the proxy wrote to its output and log files, for a
// failure message.
func (p *proxy) logs() string {
	var b strings.Builder
	for _, name := range []string{p.name + ".out", "error.log", "cache.log"} {
		data, err := os.ReadFile(filepath.Join(p.dir, name))
		if err != nil || len(data) == 0 {
			continue
		}
		const max = 4 << 10
		if len(data) > max {
			data = data[len(data)-max:]
		}
		fmt.Fprintf(&b, "--- %s %s:\n%s\n", p.name, name, data)
	}
	return b.String()
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ownerIDs returns the ids of name, or -1, -1 when the test does not run
// as root: then the proxy cannot switch users and keeps the test's own.
func ownerIDs(t *testing.T, name string) (int, int) {
	t.Helper()
	if name == "" || os.Geteuid() != 0 {
		return -1, -1
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("user %s (the package creates it): %v", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	return uid, gid
}

func chownTree(t *testing.T, dir string, uid, gid int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}
