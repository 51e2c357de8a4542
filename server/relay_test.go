package server_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
	"github.com/realtimekit/realtime/transport/sse"
)

// scaledCtx bounds a test by d, stretched by REALTIME_TEST_TIMEOUT_SCALE.
func scaledCtx(t *testing.T, d time.Duration) context.Context {
	if f, err := strconv.ParseFloat(os.Getenv("REALTIME_TEST_TIMEOUT_SCALE"), 64); err == nil && f > 1 {
		d = time.Duration(float64(d) * f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// peer is a client with what it received and how its connection fared.
type peer struct {
	c      *realtime.Client
	mu     sync.Mutex
	got    []string
	probes int
	losses int
	kick   chan struct{}
}

func (p *peer) handle(m realtime.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if bytes.HasPrefix(m.Data, []byte("probe")) {
		p.probes++
	} else {
		p.got = append(p.got, string(m.Data))
	}
	close(p.kick)
	p.kick = make(chan struct{})
}

func (p *peer) change(ch realtime.StateChange) {
	if ch.From == realtime.StateConnected && ch.To == realtime.StateReconnecting {
		p.mu.Lock()
		p.losses++
		p.mu.Unlock()
	}
}

// waitFor waits until cond holds for what p received.
func (p *peer) waitFor(ctx context.Context, cond func(got []string, probes int) bool) error {
	for {
		p.mu.Lock()
		ok, kick := cond(p.got, p.probes), p.kick
		p.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-kick:
		case <-ctx.Done():
			p.mu.Lock()
			defer p.mu.Unlock()
			return fmt.Errorf("%w: %d messages and %d probes received", ctx.Err(), len(p.got), p.probes)
		}
	}
}

func newPeer(t *testing.T, ctx context.Context, url string, tr transport.Transport, hc *http.Client, sub string) *peer {
	t.Helper()
	p := &peer{kick: make(chan struct{})}
	c, err := realtime.New(url, &realtime.Options{
		Transports:       []transport.Transport{tr},
		HTTPClient:       hc,
		HandshakeTimeout: 2 * time.Second,
		Reconnect:        reconnect.Policy{BaseDelay: 10 * time.Millisecond, MaxDelay: 200 * time.Millisecond},
		OnStateChange:    p.change,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	p.c = c
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	if _, err := c.Subscribe(ctx, sub, p.handle); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return p
}

// publishAll publishes n messages "<tag>:<i>" on channel and waits for
// every acknowledgement.
func publishAll(t *testing.T, ctx context.Context, c *realtime.Client, channel, tag string, n int) {
	t.Helper()
	receipts := make([]*realtime.Receipt, 0, n)
	for i := range n {
		r, err := c.PublishAsync(channel, fmt.Appendf(nil, "%s:%d", tag, i))
		if err != nil {
			t.Fatalf("publish %s:%d: %v", tag, i, err)
		}
		receipts = append(receipts, r)
	}
	for i, r := range receipts {
		if err := r.Wait(ctx); err != nil {
			t.Fatalf("publish %s:%d: %v", tag, i, err)
		}
	}
}

// exactly reports whether got holds tag:0 … tag:n-1 once each, in order,
// among messages of other tags.
func exactly(got []string, tag string, n int) bool {
	want := 0
	for _, s := range got {
		if rest, ok := strings.CutPrefix(s, tag+":"); ok {
			if rest != strconv.Itoa(want) {
				return false
			}
			want++
		}
	}
	return want == n
}

func countTag(got []string, tag string) int {
	return len(slices.DeleteFunc(slices.Clone(got), func(s string) bool { return !strings.HasPrefix(s, tag+":") }))
}

// Two nodes behind a round-robin proxy without stickiness: every request
// of an SSE or long-poll connection may land on either node, and is
// relayed to the one that holds the connection. Then one node goes away
// (its Relay is gone, the proxy stops sending to it): its clients get 404,
// reconnect to the other node, and traffic flows again with nothing lost,
// duplicated or reordered.
func TestRelayRoundRobin(t *testing.T) {
	for _, tr := range []transport.Transport{sse.Transport{}, longpoll.Transport{}} {
		t.Run(tr.Name(), func(t *testing.T) { relayRoundRobin(t, tr) })
	}
}

func relayRoundRobin(t *testing.T, tr transport.Transport) {
	const n = 200
	ctx := scaledCtx(t, 60*time.Second)
	relay, fb := newMemRelay(), newFanBroker()
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	nodes := []string{"a", "b"}
	var srvs []*server.Server
	var urls []string
	for _, node := range nodes {
		srv, url := start(t, server.Config{Node: node, Relay: relay, Broker: fb.view(),
			Heartbeat: time.Second, PublishRate: -1, Logger: logger})
		srvs, urls = append(srvs, srv), append(urls, url)
	}
	rr := newRoundRobin(t, urls...)
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)

	p1 := newPeer(t, ctx, rr.ts.URL, tr, hc, "to1")
	p2 := newPeer(t, ctx, rr.ts.URL, tr, hc, "to2")
	// One client at a time publishes one message at a time, so that its
	// requests alternate between the nodes whatever the other one does.
	for _, p := range []*peer{p1, p2} {
		for i := range 8 {
			if err := p.c.Publish(ctx, "nobody", fmt.Appendf(nil, "%d", i)); err != nil {
				t.Fatalf("publish: %v", err)
			}
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { publishAll(t, ctx, p1.c, "to2", "one", n) })
	wg.Go(func() { publishAll(t, ctx, p2.c, "to1", "two", n) })
	wg.Wait()
	if err := p1.waitFor(ctx, func(got []string, _ int) bool { return countTag(got, "two") >= n }); err != nil {
		t.Fatalf("client 1: %v", err)
	}
	if err := p2.waitFor(ctx, func(got []string, _ int) bool { return countTag(got, "one") >= n }); err != nil {
		t.Fatalf("client 2: %v", err)
	}
	p1.mu.Lock()
	ok1 := exactly(p1.got, "two", n)
	p1.mu.Unlock()
	p2.mu.Lock()
	ok2 := exactly(p2.got, "one", n)
	p2.mu.Unlock()
	if !ok1 || !ok2 {
		t.Fatalf("lost, duplicated or reordered: client 1 %v, client 2 %v", ok1, ok2)
	}
	relayed := relay.forwarded("a") + relay.forwarded("b")
	if relayed < 4 { // about half of the 16 one-at-a-time publishes
		t.Fatalf("%d requests relayed: the proxy did not alternate", relayed)
	}

	// The node holding more connections goes away without a word.
	victim := 0
	if srvs[1].Stats().Conns > srvs[0].Stats().Conns {
		victim = 1
	}
	if srvs[victim].Stats().Conns == 0 {
		t.Fatal("no connection on either node")
	}
	rr.down[victim].Store(true)
	relay.drop(nodes[victim], nil)

	// Probe until each client hears the other again (after a reconnect,
	// a new session subscribes again), then the real traffic.
	heard := func(p *peer) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.probes > 0
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !heard(p1) || !heard(p2) {
		_, _ = p1.c.PublishAsync("to2", []byte("probe"))
		_, _ = p2.c.PublishAsync("to1", []byte("probe"))
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("the clients did not hear each other again: %v", ctx.Err())
		}
	}
	wg.Go(func() { publishAll(t, ctx, p1.c, "to2", "three", n) })
	wg.Go(func() { publishAll(t, ctx, p2.c, "to1", "four", n) })
	wg.Wait()
	if err := p1.waitFor(ctx, func(got []string, _ int) bool { return countTag(got, "four") >= n }); err != nil {
		t.Fatalf("client 1 after the node went: %v", err)
	}
	if err := p2.waitFor(ctx, func(got []string, _ int) bool { return countTag(got, "three") >= n }); err != nil {
		t.Fatalf("client 2 after the node went: %v", err)
	}
	p1.mu.Lock()
	ok1, losses := exactly(p1.got, "four", n), p1.losses
	p1.mu.Unlock()
	p2.mu.Lock()
	ok2, losses = exactly(p2.got, "three", n), losses+p2.losses
	p2.mu.Unlock()
	if !ok1 || !ok2 {
		t.Fatalf("after the node went: lost, duplicated or reordered: client 1 %v, client 2 %v", ok1, ok2)
	}
	if losses == 0 {
		t.Fatal("no client lost its connection when its node went away")
	}
	t.Logf("%s: %d requests relayed, %d connections lost to the node going away", tr.Name(), relayed, losses)

	ids := regexp.MustCompile(`[ab]_[A-Z2-7]{26}`)
	if out := logs.String(); ids.MatchString(out) || strings.Contains(out, "id=") {
		t.Errorf("a connection id reached the log:\n%s", out)
	}
}
