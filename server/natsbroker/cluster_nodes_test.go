package natsbroker

import (
	"context"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/server/internal/clustertest"
)

// serverNodeOn is a server.Server on a Cluster of its own over nc, made
// once the JetStream cluster accepts the stream.
func serverNodeOn(t *testing.T, ctx context.Context, nc *nats.Conn, opts Options) *serverNode {
	t.Helper()
	var c *Cluster
	waitFor(t, "New on the cluster", func() bool {
		var err error
		c, err = New(ctx, nc, opts)
		return err == nil
	})
	n := &serverNode{c: c, pubs: clustertest.NewPubCount()}
	n.srv = server.New(server.Config{Broker: c, Sessions: c.Sessions(), OnPublish: n.pubs.Hook})
	t.Cleanup(func() { n.stop(false) })
	return n
}

// Two server nodes on a 3-node JetStream cluster (Replicas 3), each
// connected to a different NATS node. The NATS node of the client's
// server restarts, then that server crashes and the session moves to the
// other: nothing lost, duplicated or reordered either way, and the client
// never loses continuity.
func TestSessionAcrossNATSClusterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node cluster with restarts")
	}
	nc := startNATSCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), scaled(120*time.Second))
	defer cancel()
	opts := Options{Replicas: 3, healthEvery: 100 * time.Millisecond}
	a := serverNodeOn(t, ctx, nc.connect(0, false), opts)
	b := serverNodeOn(t, ctx, nc.connect(1, false), opts)
	fr := clustertest.NewFront(a.srv)
	ts := httptest.NewServer(fr)
	defer ts.Close()

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
	const down = "down"
	got := make(chan string, 1000)
	if _, err := cl.Subscribe(ctx, down, func(m realtime.Message) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}

	// Publications toward the client go in on node b's Cluster, each with
	// an ID and retried until stored, so that a retry is stored once.
	var sent int
	var receipts []*realtime.Receipt
	publish := func(n int) {
		for range n {
			r, err := cl.PublishAsync("up", []byte("p"+strconv.Itoa(sent)))
			if err != nil {
				t.Fatal(err)
			}
			receipts = append(receipts, r)
			m := server.Message{Channel: down, Data: []byte(strconv.Itoa(sent)), ID: "d:" + strconv.Itoa(sent)}
			for {
				pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
				err := b.c.Publish(pctx, m)
				pcancel()
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("publishing %d: %v", sent, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			sent++
		}
	}
	next := 0
	receive := func(what string) {
		for next < sent {
			select {
			case m := <-got:
				if m != strconv.Itoa(next) {
					t.Fatalf("delivery %d is %q: lost, duplicated or reordered", next, m)
				}
				next++
			case <-ctx.Done():
				t.Fatalf("%s: %d of %d delivered", what, next, sent)
			}
		}
	}

	publish(100)
	receive("before the restart")
	nc.stop(0) // node a's NATS server
	publish(100)
	nc.start(0)
	nc.waitHealthy(0)
	publish(100)
	receive("after the NATS restart")
	fr.Set(b.srv)
	a.stop(false) // node a crashes: the session moves to b
	publish(100)
	receive("after the move")

	for i, r := range receipts {
		if err := r.Wait(ctx); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	for i := range sent {
		d := "p" + strconv.Itoa(i)
		if na, nb := a.pubs.Get(d), b.pubs.Get(d); na+nb == 0 || na > 1 || nb > 1 {
			t.Errorf("publish %d: OnPublish called %d times on a, %d on b", i, na, nb)
		}
	}
	st := cl.Stats()
	if st.ContinuityLost != 0 {
		t.Errorf("continuity lost %d times", st.ContinuityLost)
	}
	t.Logf("client connects %+v; node b restored %d", st.Connects, b.srv.Stats().Restored)
	if r := b.srv.Stats().Restored; r < 1 {
		t.Errorf("node b restored %d sessions", r)
	}
	select {
	case m := <-got:
		t.Fatalf("extra delivery %q", m)
	case <-time.After(100 * time.Millisecond):
	}
}
