package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The realtime-server nodes' settings: a short heartbeat so that a dead
// node is noticed within seconds.
const heartbeat = "1s"

// rtNodes are the realtime-server processes, each on a fixed port so that
// haproxy finds a restarted one where it was.
type rtNodes struct {
	procs []*proc
	ports []int
	logs  []string // their -publish-log files

	mu            sync.Mutex
	kills         [][]time.Time // by node: when it was dead after a SIGKILL
	startFailures int           // restarts that exited before listening
}

func startNodes(t *testing.T, ctx context.Context, dir string, nc *natsCluster, n int) *rtNodes {
	t.Helper()
	rn := &rtNodes{kills: make([][]time.Time, n)}
	for i := range n {
		port := freePort(t)
		name := fmt.Sprintf("n%d", i+1)
		pubLog := filepath.Join(dir, "publish-"+name+".log")
		args := []string{serverBin, "-addr", fmt.Sprintf("127.0.0.1:%d", port), "-insecure-no-auth",
			"-heartbeat", heartbeat, "-publish-rate", "-1", "-drain", "1s", "-log-level", "info",
			"-node", name, "-publish-log", pubLog,
			"-nats", strings.Join(nc.clients, ","), "-nats-replicas", "3", "-nats-prefix", "rt"}
		if os.Getenv("CLUSTER_WITHOUT_NATS") != "" && os.Getenv("REALTIME_SERVER_BIN") == "" {
			args = args[:len(args)-6] // the harness alone: nodes that share nothing
		}
		// One after the other: the first creates the streams and buckets.
		p := newProc(t, dir, name, args...)
		p.start(t)
		if err := p.waitListening(ctx); err != nil {
			t.Fatalf("%v\nnats1's log:\n%s", err, tail(nc.nodes[0].log))
		}
		rn.procs, rn.ports, rn.logs = append(rn.procs, p), append(rn.ports, port), append(rn.logs, pubLog)
	}
	return rn
}

// restart kills node i with SIGKILL and starts it again.
func (rn *rtNodes) restart(t *testing.T, ctx context.Context, i int) error {
	rn.procs[i].kill()
	// The time it is known dead: every line it wrote is older.
	rn.mu.Lock()
	rn.kills[i] = append(rn.kills[i], time.Now())
	rn.mu.Unlock()
	// A node that cannot reach JetStream in time exits; a supervisor
	// would start it again, and so does this, a few times.
	var err error
	for range 5 {
		rn.procs[i].start(t)
		if err = rn.procs[i].waitListening(ctx); err == nil {
			return nil
		}
		rn.mu.Lock()
		rn.startFailures++
		rn.mu.Unlock()
	}
	return err
}

// startHAProxy balances over the nodes round-robin, without stickiness,
// with timeouts longer than an SSE stream's silence (the heartbeat) and a
// long poll (at most 25 s), and returns its base URL.
func startHAProxy(t *testing.T, ctx context.Context, dir string, rn *rtNodes) string {
	t.Helper()
	port := freePort(t)
	var servers strings.Builder
	for i, p := range rn.ports {
		fmt.Fprintf(&servers, "  server n%d 127.0.0.1:%d check inter 300ms fall 1 rise 1\n", i+1, p)
	}
	conf := fmt.Sprintf(`global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout tunnel 60s
  option http-no-delay
  retries 3
  option redispatch 1
frontend fe
  bind 127.0.0.1:%d
  default_backend nodes
backend nodes
  balance roundrobin
  option httpchk GET /healthz
%s`, port, servers.String())
	file := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newProc(t, dir, "haproxy", "haproxy", "-db", "-f", file)
	p.start(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitHTTP(ctx, base+"/healthz"); err != nil {
		t.Fatalf("haproxy: %v\n%s", err, tail(p.log))
	}
	return base
}
