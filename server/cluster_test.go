package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/server/internal/clustertest"
	"github.com/realtimekit/realtime/server/internal/memcluster"
)

// node is one Server of a memcluster.
type node struct {
	srv  *server.Server
	bkr  *memcluster.Node
	pubs *clustertest.PubCount
}

func newNode(t *testing.T, eng *memcluster.Cluster, pubs *clustertest.PubCount) *node {
	t.Helper()
	n := &node{bkr: eng.Node(), pubs: pubs}
	n.srv = server.New(server.Config{Broker: n.bkr, Sessions: eng.Sessions(), OnPublish: pubs.Hook})
	t.Cleanup(func() { n.kill(t) })
	return n
}

// kill ends the node at once, as a crash would for its clients: every
// connection is cut, and nothing is handed over.
func (n *node) kill(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = n.srv.Close(ctx)
	_ = n.bkr.Close(context.Background())
}

// drain ends the node as a rolling restart does: Close with time to finish
// what is in flight.
func (n *node) drain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := n.srv.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	_ = n.bkr.Close(context.Background())
}

// A session moves from a node that dies to another: the client sees it
// resumed, and nothing is lost, duplicated or reordered either way.
// OnPublish is called once per publish when the node drains; when it
// crashes, a publish in flight may be called once on each node, never
// twice on one.
func TestSessionResumesOnAnotherNode(t *testing.T) {
	for _, tr := range []string{"websocket", "sse", "longpoll"} {
		for _, crash := range []bool{false, true} {
			name := tr + "/drain"
			if crash {
				name = tr + "/crash"
			}
			t.Run(name, func(t *testing.T) { testResumeOnAnotherNode(t, tr, crash) })
		}
	}
}

func testResumeOnAnotherNode(t *testing.T, tr string, crash bool) {
	const each = 300
	eng := memcluster.New()
	pa, pb := clustertest.NewPubCount(), clustertest.NewPubCount()
	a, b := newNode(t, eng, pa), newNode(t, eng, pb)
	fr := clustertest.NewFront(a.srv)
	ts := httptest.NewServer(fr)
	defer ts.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	var changes []realtime.StateChange
	var cmu sync.Mutex
	cl, err := realtime.New(ts.URL, &realtime.Options{
		Transports: clustertest.Transports(tr),
		Reconnect:  reconnect.Policy{BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
		OnStateChange: func(c realtime.StateChange) {
			cmu.Lock()
			changes = append(changes, c)
			cmu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 2*each)
	if _, err := cl.Subscribe(ctx, "down", func(m realtime.Message) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}

	var receipts []*realtime.Receipt
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			r, err := cl.PublishAsync("up", []byte("p"+strconv.Itoa(i)))
			if err != nil {
				t.Fatal(err)
			}
			receipts = append(receipts, r)
			if err := b.srv.Publish(ctx, "down", []byte(strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(0, each/2)
	// The node dies with frames in flight both ways.
	fr.Set(b.srv)
	if crash {
		a.kill(t)
	} else {
		a.drain(t)
	}
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
		d := "p" + strconv.Itoa(i)
		na, nb := pa.Get(d), pb.Get(d)
		switch {
		case na+nb == 0 || na > 1 || nb > 1:
			t.Errorf("publish %d: OnPublish called %d times on a, %d on b", i, na, nb)
		case na+nb == 2 && !crash:
			t.Errorf("publish %d: OnPublish called on both nodes of a drain", i)
		case na+nb == 2:
			again++
		}
	}
	t.Logf("%d publishes in flight at the crash were seen by OnPublish on both nodes", again)
	st := cl.Stats()
	if st.ContinuityLost != 0 {
		t.Errorf("continuity lost %d times", st.ContinuityLost)
	}
	t.Logf("client %+v; node b %+v", st.Connects, b.srv.Stats())
	if r := b.srv.Stats().Restored; r < 1 {
		cmu.Lock()
		t.Errorf("node b restored %d sessions; changes: %s", r, fmt.Sprint(changes))
		cmu.Unlock()
	}
	select {
	case m := <-got:
		t.Fatalf("extra delivery %q", m)
	default:
	}
}

// connectTo returns a connected WebSocket client of url that retries fast.
func connectTo(t *testing.T, ctx context.Context, url string) *realtime.Client {
	t.Helper()
	cl, err := realtime.New(url, &realtime.Options{
		Transports: clustertest.Transports("websocket"),
		Reconnect:  reconnect.Policy{BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	return cl
}

// While the engine is unreachable, handshakes get 503 with Retry-After and
// a publish is neither acknowledged nor refused; once it is back the
// session resumes and the publish goes through, once.
func TestEngineUnreachable(t *testing.T) {
	eng := memcluster.New()
	pa := clustertest.NewPubCount()
	a := newNode(t, eng, pa)
	ts := httptest.NewServer(a.srv)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	cl := connectTo(t, ctx, ts.URL)
	got := make(chan string, 4)
	if _, err := cl.Subscribe(ctx, "c", func(m realtime.Message) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}

	eng.SetDown(true)
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
	// The link ends (5003) and handshakes are refused: the publish waits.
	if _, err := cl.WaitForState(ctx, realtime.StateReconnecting); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.Done():
		t.Fatalf("publish ended while the engine was down: %v", r.Err())
	default:
	}

	eng.SetDown(false)
	if err := r.Wait(ctx); err != nil {
		t.Fatalf("publish after the engine came back: %v", err)
	}
	select {
	case m := <-got:
		if m != "kept" {
			t.Fatalf("got %q", m)
		}
	case <-ctx.Done():
		t.Fatal("the publish was not delivered")
	}
	if n := cl.Stats().ContinuityLost; n != 0 {
		t.Errorf("continuity lost %d times", n)
	}
	if n := pa.Get("kept"); n != 1 {
		t.Errorf("OnPublish called %d times", n)
	}
}

// A session whose part of the log is gone cannot resume anywhere: the
// client is told it lost continuity, never left waiting.
func TestTrimmedLogLosesContinuity(t *testing.T) {
	eng := memcluster.New()
	a := newNode(t, eng, clustertest.NewPubCount())
	b := newNode(t, eng, clustertest.NewPubCount())
	fr := clustertest.NewFront(a.srv)
	ts := httptest.NewServer(fr)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	lost := make(chan struct{}, 1)
	cl, err := realtime.New(ts.URL, &realtime.Options{
		Transports: clustertest.Transports("websocket"),
		Reconnect:  reconnect.Policy{BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
		OnStateChange: func(c realtime.StateChange) {
			if c.ContinuityLost {
				select {
				case lost <- struct{}{}:
				default:
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	// The handler holds the first message until the log is trimmed, so
	// that nothing is acknowledged and the session's resume point lies in
	// the part trimmed away (an idle session's point follows the log).
	release, held := make(chan struct{}), make(chan struct{}, 1)
	if _, err := cl.Subscribe(ctx, "c", func(realtime.Message) {
		select {
		case held <- struct{}{}:
			<-release
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := b.srv.Publish(ctx, "c", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("no message delivered")
	}
	// Trimmed before the kill: the client, back at once, must not find
	// the log whole on b.
	last, _ := b.bkr.Last(ctx)
	eng.Trim(last)
	fr.Set(b.srv)
	a.kill(t)
	close(release)
	select {
	case <-lost:
	case <-ctx.Done():
		t.Fatal("no loss of continuity reported")
	}
	if _, err := cl.WaitForState(ctx, realtime.StateConnected); err != nil {
		t.Fatal(err)
	}
}

// A session that moves to another node and back, subscribing on the way,
// is rebuilt each time from the store and the log: the node it left holds
// a stale copy, which it must not use.
func TestSessionMovesBackAndForth(t *testing.T) {
	eng := memcluster.New()
	a := newNode(t, eng, clustertest.NewPubCount())
	b := newNode(t, eng, clustertest.NewPubCount())
	fr := clustertest.NewFront(a.srv)
	ts := httptest.NewServer(fr)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	cl, err := realtime.New(ts.URL, &realtime.Options{
		Transports: clustertest.Transports("longpoll"),
		Reconnect:  reconnect.Policy{BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1000)
	handler := func(m realtime.Message) { got <- m.Channel + ":" + string(m.Data) }
	if _, err := cl.Subscribe(ctx, "one", handler); err != nil {
		t.Fatal(err)
	}
	var want []string
	publish := func(ch string, n int) {
		for range n {
			d := strconv.Itoa(len(want))
			want = append(want, ch+":"+d)
			if err := a.srv.Publish(ctx, ch, []byte(d)); err != nil {
				t.Fatal(err)
			}
		}
	}
	move := func(to *node) {
		fr.Set(to.srv)
		ts.CloseClientConnections()
	}
	publish("one", 50)
	move(b)
	if _, err := cl.Subscribe(ctx, "two", handler); err != nil {
		t.Fatal(err)
	}
	publish("two", 50)
	publish("one", 50)
	move(a)
	publish("two", 50)
	for i, w := range want {
		select {
		case m := <-got:
			if m != w {
				t.Fatalf("delivery %d is %q, want %q", i, m, w)
			}
		case <-ctx.Done():
			t.Fatalf("%d of %d delivered", i, len(want))
		}
	}
	if n := cl.Stats().ContinuityLost; n != 0 {
		t.Errorf("continuity lost %d times", n)
	}
	if a.srv.Stats().Restored+b.srv.Stats().Restored < 1 {
		t.Error("the session was never rebuilt on another node")
	}
	t.Logf("restored on a %d, on b %d", a.srv.Stats().Restored, b.srv.Stats().Restored)
}

// An idle session's resume point follows the log, so that retention of
// other channels' traffic does not cost it its continuity.
func TestIdleSessionFollowsTheLog(t *testing.T) {
	eng := memcluster.New()
	a := newNode(t, eng, clustertest.NewPubCount())
	b := newNode(t, eng, clustertest.NewPubCount())
	fr := clustertest.NewFront(a.srv)
	ts := httptest.NewServer(fr)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	cl := connectTo(t, ctx, ts.URL)
	if _, err := cl.Subscribe(ctx, "quiet", func(realtime.Message) {}); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if err := a.srv.Publish(ctx, "busy", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	last, _ := a.bkr.Last(ctx)
	// Wait for the node to store a resume point past the busy traffic.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for stored := uint64(0); stored < last; {
		recs := eng.Snapshot()
		if len(recs) == 1 {
			stored = recs[0].Pos
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("resume point stayed at %d, log at %d", stored, last)
		}
	}
	eng.Trim(last)
	fr.Set(b.srv)
	a.kill(t)
	if _, err := cl.WaitForState(ctx, realtime.StateReconnecting); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.WaitForState(ctx, realtime.StateConnected); err != nil {
		t.Fatal(err)
	}
	if n := cl.Stats().ContinuityLost; n != 0 {
		t.Errorf("continuity lost %d times", n)
	}
}

// A client's publish on one node reaches a subscriber on another, in order.
func TestPublishCrossesNodes(t *testing.T) {
	eng := memcluster.New()
	a := newNode(t, eng, clustertest.NewPubCount())
	b := newNode(t, eng, clustertest.NewPubCount())
	ta, tb := httptest.NewServer(a.srv), httptest.NewServer(b.srv)
	defer ta.Close()
	defer tb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	sub, pub := connectTo(t, ctx, ta.URL), connectTo(t, ctx, tb.URL)
	got := make(chan string, 100)
	if _, err := sub.Subscribe(ctx, "c", func(m realtime.Message) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := pub.Publish(ctx, "c", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		select {
		case m := <-got:
			if m != strconv.Itoa(i) {
				t.Fatalf("delivery %d is %q", i, m)
			}
		case <-ctx.Done():
			t.Fatalf("%d of 100 delivered", i)
		}
	}
}

// A publish the node stored but whose LastIn it could not store is not
// processed again, nor put to OnPublish again, by the node where the
// session resumes.
func TestPublishStoredByAnotherNodeIsNotRedone(t *testing.T) {
	eng := memcluster.New()
	pa, pb := clustertest.NewPubCount(), clustertest.NewPubCount()
	a, b := newNode(t, eng, pa), newNode(t, eng, pb)
	fr := clustertest.NewFront(a.srv)
	ts, tb := httptest.NewServer(fr), httptest.NewServer(b.srv)
	defer ts.Close()
	defer tb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	sub, cl := connectTo(t, ctx, tb.URL), connectTo(t, ctx, ts.URL)
	got := make(chan string, 4)
	if _, err := sub.Subscribe(ctx, "c", func(m realtime.Message) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}
	eng.SetStoreDown(true) // the log takes the publish, the store not its LastIn
	r, err := cl.PublishAsync("c", []byte("once"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "once" {
			t.Fatalf("got %q", m)
		}
	case <-ctx.Done():
		t.Fatal("the publish was not delivered")
	}
	fr.Set(b.srv)
	eng.SetStoreDown(false)
	if err := r.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if na, nb := pa.Get("once"), pb.Get("once"); na != 1 || nb != 0 {
		t.Errorf("OnPublish called %d times on a, %d on b", na, nb)
	}
	if n := b.srv.Stats().Restored; n < 1 {
		t.Errorf("the session was not rebuilt on b (%d)", n)
	}
	if n := cl.Stats().ContinuityLost; n != 0 {
		t.Errorf("continuity lost %d times", n)
	}
	select {
	case m := <-got:
		t.Fatalf("delivered again: %q", m)
	case <-time.After(100 * time.Millisecond):
	}
}
