package natsbroker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime/server"
)

// natsCluster is a 3-node embedded JetStream cluster on 127.0.0.1 whose
// nodes keep their ports and store across restarts.
type natsCluster struct {
	t     *testing.T
	opts  []*natsserver.Options
	nodes []*natsserver.Server
}

// freePorts returns n ports free a moment ago on 127.0.0.1.
func freePorts(t *testing.T, n int) []int {
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

func startNATSCluster(t *testing.T) *natsCluster {
	p := freePorts(t, 9) // client, route, monitor for each node
	dir := t.TempDir()
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p[3+i]))
	}
	nc := &natsCluster{t: t}
	for i := range 3 {
		o := &natsserver.Options{
			ServerName: "n" + strconv.Itoa(i+1), Host: "127.0.0.1", Port: p[i],
			HTTPHost: "127.0.0.1", HTTPPort: p[6+i], NoSigs: true,
			JetStream: true, StoreDir: filepath.Join(dir, strconv.Itoa(i)),
			Cluster: natsserver.ClusterOpts{Name: "rt", Host: "127.0.0.1", Port: p[3+i]},
			Routes:  natsserver.RoutesFromStr(strings.Join(routes, ",")),
		}
		nc.opts = append(nc.opts, o)
		nc.nodes = append(nc.nodes, nil)
	}
	for i := range 3 {
		nc.start(i)
	}
	t.Cleanup(func() {
		for _, s := range nc.nodes {
			if s != nil {
				s.Shutdown()
				s.WaitForShutdown()
			}
		}
	})
	for i := range 3 {
		nc.waitHealthy(i)
	}
	return nc
}

func (c *natsCluster) url(i int) string {
	return fmt.Sprintf("nats://127.0.0.1:%d", c.opts[i].Port)
}

func (c *natsCluster) start(i int) {
	o := *c.opts[i]
	s, err := natsserver.NewServer(&o)
	require.NoError(c.t, err)
	go s.Start()
	require.True(c.t, s.ReadyForConnections(scaled(20*time.Second)), "node %d not ready", i)
	c.nodes[i] = s
}

func (c *natsCluster) stop(i int) {
	c.nodes[i].Shutdown()
	c.nodes[i].WaitForShutdown()
	c.nodes[i] = nil
}

// waitHealthy waits until node i's /healthz says it is current.
func (c *natsCluster) waitHealthy(i int) {
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", c.opts[i].HTTPPort)
	waitFor(c.t, "node healthy", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (c *natsCluster) connect(first int, only bool) *nats.Conn {
	servers := []string{c.url(first)}
	if !only {
		for i := range 3 {
			if i != first {
				servers = append(servers, c.url(i))
			}
		}
	}
	opts := []nats.Option{nats.DontRandomize(), nats.MaxReconnects(-1),
		nats.ReconnectWait(50 * time.Millisecond), nats.NoCallbacksAfterClientClose()}
	if only { // not the servers the cluster tells of
		opts = append(opts, nats.IgnoreDiscoveredServers())
	}
	nc, err := nats.Connect(strings.Join(servers, ","), opts...)
	require.NoError(c.t, err)
	c.t.Cleanup(nc.Close)
	return nc
}

func TestClusterSurvivesNodeRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node cluster with restarts")
	}
	nc := startNATSCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), scaled(120*time.Second))
	defer cancel()
	newC := func(conn *nats.Conn) *Cluster {
		var c *Cluster
		waitFor(t, "New on the cluster", func() bool {
			var err error
			c, err = New(ctx, conn, Options{Replicas: 3, healthEvery: 100 * time.Millisecond})
			return err == nil
		})
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		return c
	}
	pub := newC(nc.connect(0, false))
	sub := newC(nc.connect(0, false))
	lonely := newC(nc.connect(2, true)) // reaches node 3 only
	require.NoError(t, lonely.Healthy())

	var mu sync.Mutex
	var got []string
	var lastPos uint64
	var disorder error
	require.NoError(t, sub.Subscribe(ctx, "c", func(m server.Message) {
		mu.Lock()
		defer mu.Unlock()
		if m.Pos <= lastPos && disorder == nil {
			disorder = fmt.Errorf("position %d after %d", m.Pos, lastPos)
		}
		lastPos = m.Pos
		got = append(got, string(m.Data))
	}))

	// The publisher retries each publication with its ID until stored:
	// the stream keeps it once however often it is sent.
	var sent int
	publish := func(n int) {
		for range n {
			m := server.Message{Channel: "c", Data: []byte(strconv.Itoa(sent)), ID: "p:" + strconv.Itoa(sent)}
			for {
				pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
				err := pub.Publish(pctx, m)
				pcancel()
				if err == nil {
					break
				}
				require.NoError(t, ctx.Err(), "publishing %d: %v", sent, err)
				time.Sleep(20 * time.Millisecond)
			}
			sent++
		}
	}
	received := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }

	publish(50)
	waitFor(t, "deliveries before the restarts", func() bool { return received() == sent })

	// Restart the node both clients are connected to, publishing meanwhile.
	nc.stop(0)
	publish(50)
	nc.start(0)
	nc.waitHealthy(0)
	publish(50)
	waitFor(t, "deliveries after restarting the connected node", func() bool { return received() == sent })

	// Restart another node: the only one the lonely connection reaches.
	nc.stop(2)
	waitFor(t, "Healthy to report the unreachable server", func() bool { return lonely.Healthy() != nil })
	publish(50)
	nc.start(2)
	nc.waitHealthy(2)
	waitFor(t, "Healthy once the server is back", func() bool { return lonely.Healthy() == nil })
	publish(50)
	waitFor(t, "every delivery", func() bool { return received() == sent })

	mu.Lock()
	defer mu.Unlock()
	require.NoError(t, disorder)
	for i, d := range got {
		require.Equal(t, strconv.Itoa(i), d, "lost, duplicated or reordered")
	}
	require.Len(t, got, sent)
}
