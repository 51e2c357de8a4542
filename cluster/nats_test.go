package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// natsCluster is three nats-server processes with JetStream, routed to
// each other, on 127.0.0.1.
type natsCluster struct {
	nodes   []*proc
	clients []string // nats:// URLs
	health  []string // /healthz URLs
}

func startNATS(t *testing.T, ctx context.Context, dir string) *natsCluster {
	t.Helper()
	const n = 3
	nc := &natsCluster{}
	var client, route, mon [n]int
	for i := range n {
		client[i], route[i], mon[i] = freePort(t), freePort(t), freePort(t)
	}
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", route[i]))
	}
	for i := range n {
		name := fmt.Sprintf("nats%d", i+1)
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
max_payload: 2MB
jetstream { store_dir: %q, max_memory_store: 256MB, max_file_store: 1GB }
cluster { name: rt, listen: 127.0.0.1:%d, routes: [%s] }
`, name, client[i], mon[i], filepath.Join(dir, name), route[i], strings.Join(routes, ", "))
		file := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		p := newProc(t, dir, name, natsBin, "-c", file)
		p.start(t)
		nc.nodes = append(nc.nodes, p)
		nc.clients = append(nc.clients, fmt.Sprintf("nats://127.0.0.1:%d", client[i]))
		nc.health = append(nc.health, fmt.Sprintf("http://127.0.0.1:%d/healthz", mon[i]))
	}
	for i := range n {
		if err := waitHTTP(ctx, nc.health[i]); err != nil {
			t.Fatalf("NATS node %d: %v\n%s", i+1, err, tail(nc.nodes[i].log))
		}
	}
	for i := range n {
		if err := waitMetaLeader(ctx, nc.health[i]); err != nil {
			t.Fatalf("NATS node %d: %v\n%s", i+1, err, tail(nc.nodes[i].log))
		}
	}
	return nc
}

// restart kills NATS node i with SIGKILL and starts it again on its store.
func (nc *natsCluster) restart(t *testing.T, ctx context.Context, i int) error {
	nc.nodes[i].kill()
	nc.nodes[i].start(t)
	return waitHTTP(ctx, nc.health[i])
}

// waitMetaLeader waits until the JetStream cluster has elected its meta
// leader, seen from the node whose /healthz is health: before that,
// creating a replicated stream times out.
func waitMetaLeader(ctx context.Context, health string) error {
	url := strings.TrimSuffix(health, "/healthz") + "/jsz"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			var jsz struct {
				Meta struct {
					Leader string `json:"leader"`
				} `json:"meta_cluster"`
			}
			err = json.NewDecoder(resp.Body).Decode(&jsz)
			resp.Body.Close()
			if err == nil && jsz.Meta.Leader != "" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no JetStream meta leader: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond): // polling a condition, bounded by ctx
		}
	}
}
