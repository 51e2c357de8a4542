package server_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/server"
)

// eventLog collects a server's events.
type eventLog struct {
	mu     sync.Mutex
	events []server.Event
	kick   chan struct{}
}

func (l *eventLog) Observe(e server.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Client = nil // not to be kept past Observe
	l.events = append(l.events, e)
	if l.kick != nil {
		close(l.kick)
		l.kick = nil
	}
}

// waitFor waits until cond holds on the events.
func (l *eventLog) waitFor(t *testing.T, cond func([]server.Event) bool) []server.Event {
	t.Helper()
	deadline := time.After(wait)
	for {
		l.mu.Lock()
		if cond(l.events) {
			out := append([]server.Event(nil), l.events...)
			l.mu.Unlock()
			return out
		}
		if l.kick == nil {
			l.kick = make(chan struct{})
		}
		kick := l.kick
		l.mu.Unlock()
		select {
		case <-kick:
		case <-deadline:
			t.Fatalf("events: %v", l.events)
		}
	}
}

func count(events []server.Event, k server.EventKind) (n int) {
	for _, e := range events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// A known workload gives the events it must: one connect, each publish
// and subscription with its channel, size, header and refusal code, sends
// that carry every frame the client received, and one disconnect.
func TestObserverSeesAConnectionsEvents(t *testing.T) {
	l := &eventLog{}
	_, url := start(t, server.Config{Observer: l})
	c, _ := open(t, url)
	c.send(codec.Frame{Type: codec.TypeSubscribe, Seq: 1, Channel: "c"})
	c.send(codec.Frame{Type: codec.TypePublish, Seq: 2, Channel: "c", Data: []byte("hello"), Header: map[string]string{"k": "v"}})
	c.send(codec.Frame{Type: codec.TypePublish, Seq: 3, Channel: "c", Data: []byte("x"), Header: map[string]string{"": "an empty key"}})
	c.send(codec.Frame{Type: codec.TypeUnsub, Seq: 4, Channel: "c"})
	events := l.waitFor(t, func(ev []server.Event) bool { return count(ev, server.EventUnsubscribe) == 1 })
	if n := count(events, server.EventConnect); n != 1 || events[0].Kind != server.EventSend || events[1].Kind != server.EventConnect {
		t.Fatalf("want the hello's send, then one connect: %v", events)
	}
	var pubs []string
	for _, e := range events {
		if e.Kind == server.EventPublish || e.Kind == server.EventSubscribe || e.Kind == server.EventUnsubscribe {
			pubs = append(pubs, fmt.Sprintf("%s %s %d %v %d", e.Kind, e.Channel, e.Bytes, e.Header, e.Code))
		}
	}
	want := []string{"subscribe c 0 map[] 0", "publish c 5 map[k:v] 0", "publish c 1 map[:an empty key] 4011", "unsubscribe c 0 map[] 0"}
	if fmt.Sprint(pubs) != fmt.Sprint(want) {
		t.Fatalf("frames acted on: %q, want %q", pubs, want)
	}
	c.conn.Close()
	events = l.waitFor(t, func(ev []server.Event) bool { return count(ev, server.EventDisconnect) == 1 })
	for _, e := range events {
		if e.Kind == server.EventSend && (e.Frames < 1 || e.Bytes < 1) {
			t.Fatalf("a send without frames or bytes: %+v", e)
		}
	}
	if last := events[len(events)-1]; last.Kind != server.EventDisconnect || last.Latency <= 0 {
		t.Fatalf("last event %+v, want the disconnect with how long it was connected", last)
	}
}

// An Observer counts a server's publishes, by whether they were refused.
func ExampleObserver() {
	var mu sync.Mutex
	published := map[bool]int{}
	srv := server.New(server.Config{Observer: server.ObserverFunc(func(e server.Event) {
		if e.Kind == server.EventPublish {
			mu.Lock()
			published[e.Code == 0]++
			mu.Unlock()
		}
	})})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close(context.Background())

	ctx := context.Background()
	c, _ := realtime.New(ts.URL, nil)
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	_ = c.Publish(ctx, "news", []byte("hello"))
	_ = c.Publish(ctx, "news", []byte("world"))
	mu.Lock()
	fmt.Println("accepted:", published[true], "refused:", published[false])
	mu.Unlock()
	// Output: accepted: 2 refused: 0
}
