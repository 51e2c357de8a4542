package natsbroker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/server/internal/clustertest"
)

// serverNode is a server.Server on its own Cluster and NATS connection.
type serverNode struct {
	srv  *server.Server
	c    *Cluster
	pubs *clustertest.PubCount
	once sync.Once
}

func newServerNode(t testing.TB, url string) *serverNode {
	t.Helper()
	c, err := New(testCtx(t), connect(t, url), Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := &serverNode{c: c, pubs: clustertest.NewPubCount()}
	n.srv = server.New(server.Config{Broker: c, Sessions: c.Sessions(), OnPublish: n.pubs.Hook})
	t.Cleanup(func() { n.stop(false) })
	return n
}

// stop ends the node: at once, as a crash does for its clients, or with
// time to finish what is in flight, as a rolling restart does.
func (n *serverNode) stop(drain bool) {
	n.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), scaled(10*time.Second))
		if !drain {
			cancel()
		}
		_ = n.srv.Close(ctx)
		cancel()
		_ = n.c.Close(context.Background())
	})
}

// Two server nodes, each on its own NATS connection, share one JetStream:
// a session moves from a node that stops to the other, the client sees it
// resumed, and nothing is lost, duplicated or reordered either way.
func TestSessionMovesBetweenServers(t *testing.T) {
	s := startServer(t)
	for _, tr := range []string{"websocket", "sse", "longpoll"} {
		for _, drain := range []bool{true, false} {
			name := tr + "/crash"
			if drain {
				name = tr + "/drain"
			}
			t.Run(name, func(t *testing.T) { testSessionMoves(t, s.ClientURL(), tr, drain) })
		}
	}
}

func testSessionMoves(t *testing.T, url, tr string, drain bool) {
	const each = 200
	a, b := newServerNode(t, url), newServerNode(t, url)
	fr := clustertest.NewFront(a.srv)
	ts := httptest.NewServer(fr)
	defer ts.Close()
	ctx := testCtx(t)

	cl, err := realtime.New(ts.URL, &realtime.Options{
		Transports: clustertest.Transports(tr),
		Reconnect:  reconnect.Policy{BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	// A channel of the test's own, as the stream outlives the subtest.
	down := "down/" + t.Name()
	got := make(chan string, 2*each)
	if _, err := cl.Subscribe(ctx, down, func(m realtime.Message) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}
	var receipts []*realtime.Receipt
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			r, err := cl.PublishAsync("up", []byte(t.Name()+strconv.Itoa(i)))
			if err != nil {
				t.Fatal(err)
			}
			receipts = append(receipts, r)
			if err := b.srv.Publish(ctx, down, []byte(strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(0, each/2)
	fr.Set(b.srv) // the node stops with frames in flight both ways
	a.stop(drain)
	publish(each/2, each)

	for i := range each {
		select {
		case m := <-got:
			if m != strconv.Itoa(i) {
				t.Fatalf("delivery %d is %q: lost, duplicated or reordered", i, m)
			}
		case <-ctx.Done():
			t.Fatalf("%d of %d delivered", i, each)
		}
	}
	for i, r := range receipts {
		if err := r.Wait(ctx); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	again := 0
	for i := range each {
		d := t.Name() + strconv.Itoa(i)
		na, nb := a.pubs.Get(d), b.pubs.Get(d)
		switch {
		case na+nb == 0 || na > 1 || nb > 1:
			t.Errorf("publish %d: OnPublish called %d times on a, %d on b", i, na, nb)
		case na+nb == 2:
			again++
		}
	}
	// On a crash a publish in flight may be seen by OnPublish on both
	// nodes (server.Config.OnPublish says so); on a drain never: a
	// publish the drained node stored is found in the log by the node
	// the session moves to.
	if again > 0 && drain {
		t.Errorf("%d publishes seen by OnPublish on both nodes of a drain", again)
	} else if again > 0 {
		t.Logf("%d publishes in flight at the crash seen by OnPublish on both nodes", again)
	}
	if st := cl.Stats(); st.ContinuityLost != 0 {
		t.Errorf("continuity lost %d times", st.ContinuityLost)
	}
	if r := b.srv.Stats().Restored; r < 1 {
		t.Errorf("node b restored %d sessions", r)
	}
	select {
	case m := <-got:
		t.Fatalf("extra delivery %q", m)
	default:
	}
}

// restartable is an embedded JetStream server that keeps its port and
// store across restarts, as a NATS server restarted in place does.
type restartable struct {
	t    *testing.T
	opts natsserver.Options
	s    *natsserver.Server
}

func newRestartable(t *testing.T) *restartable {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	r := &restartable{t: t, opts: natsserver.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
	}}
	r.start()
	t.Cleanup(func() {
		if r.s != nil {
			r.stop()
		}
	})
	return r
}

func (r *restartable) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", r.opts.Port) }

func (r *restartable) start() {
	o := r.opts
	s, err := natsserver.NewServer(&o)
	if err != nil {
		r.t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(scaled(10 * time.Second)) {
		r.t.Fatal("nats-server not ready")
	}
	r.s = s
}

func (r *restartable) stop() {
	r.s.Shutdown()
	r.s.WaitForShutdown()
	r.s = nil
}

// While its NATS server is down, a node refuses handshakes with 503 and
// Retry-After and acknowledges nothing; once the server is back, without
// restarting the node, the session resumes and the publish made meanwhile
// is stored, delivered and seen by OnPublish once.
func TestNodeRidesOutNATSRestart(t *testing.T) {
	ns := newRestartable(t)
	nc, err := nats.Connect(ns.url(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c, err := New(testCtx(t), nc, Options{healthEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	n := &serverNode{c: c, pubs: clustertest.NewPubCount()}
	n.srv = server.New(server.Config{Broker: c, Sessions: c.Sessions(), OnPublish: n.pubs.Hook})
	t.Cleanup(func() { n.stop(false) })
	ts := httptest.NewServer(n.srv)
	defer ts.Close()
	ctx := testCtx(t)

	cl, err := realtime.New(ts.URL, &realtime.Options{
		Transports: clustertest.Transports("websocket"),
		Reconnect:  reconnect.Policy{BaseDelay: 5 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	if _, err := cl.Subscribe(ctx, "c", func(m realtime.Message) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}
	if err := cl.Publish(ctx, "c", []byte("before")); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m != "before" {
		t.Fatalf("got %q", m)
	}

	ns.stop()
	waitFor(t, "Healthy to report the server down", func() bool { return c.Healthy() != nil })
	r, err := cl.PublishAsync("c", []byte("kept"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ts.URL + "/ws?v=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("handshake while down: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	select {
	case <-r.Done():
		t.Fatalf("publish ended while NATS was down: %v", r.Err())
	case <-time.After(200 * time.Millisecond):
	}

	ns.start()
	if err := r.Wait(ctx); err != nil {
		t.Fatalf("publish after NATS came back: %v", err)
	}
	select {
	case m := <-got:
		if m != "kept" {
			t.Fatalf("got %q", m)
		}
	case <-ctx.Done():
		t.Fatal("the publish was not delivered")
	}
	waitFor(t, "Healthy once the server is back", func() bool { return c.Healthy() == nil })
	if err := cl.Publish(ctx, "c", []byte("after")); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m != "after" {
		t.Fatalf("got %q after %q: duplicated or reordered", m, "kept")
	}
	if st := cl.Stats(); st.ContinuityLost != 0 {
		t.Errorf("continuity lost %d times", st.ContinuityLost)
	}
	if k := n.pubs.Get("kept"); k != 1 {
		t.Errorf("OnPublish called %d times for the publish made while NATS was down", k)
	}
}
