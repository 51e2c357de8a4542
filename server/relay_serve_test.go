package server_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
	"github.com/realtimekit/realtime/transport/sse"
	"github.com/realtimekit/realtime/transport/websocket"
)

// countingRelay counts Serve and stop calls, and fails Serve while fail
// is set.
type countingRelay struct {
	mu            sync.Mutex
	serves, stops int
	fail          bool
}

func (r *countingRelay) Serve(string, func(context.Context, []byte) []byte) (func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.serves++
	if r.fail {
		return nil, errors.New("engine unreachable")
	}
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.stops++
	}, nil
}

func (r *countingRelay) Forward(context.Context, string, []byte) ([]byte, error) {
	return nil, server.ErrNodeGone
}

func (r *countingRelay) counts() (serves, stops int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.serves, r.stops
}

func connectOver(t *testing.T, ctx context.Context, url string, tr transport.Transport) error {
	t.Helper()
	c, err := realtime.New(url, &realtime.Options{
		Transports: []transport.Transport{tr},
		Reconnect:  reconnect.Policy{BaseDelay: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.Connect(ctx)
}

// A Server serves its Relay from its first SSE or long-poll handshake, not
// before (New does no I/O, WebSocket needs no relay), once, until Close.
func TestRelayServedFromFirstHandshakeUntilClose(t *testing.T) {
	ctx := scaledCtx(t, 30*time.Second)
	relay := &countingRelay{}
	srv, url := start(t, server.Config{Node: "a", Relay: relay})
	if s, _ := relay.counts(); s != 0 {
		t.Fatalf("New called Serve %d times", s)
	}
	if err := connectOver(t, ctx, url, websocket.Transport{}); err != nil {
		t.Fatal(err)
	}
	if s, _ := relay.counts(); s != 0 {
		t.Fatalf("a WebSocket handshake called Serve %d times", s)
	}
	for _, tr := range []transport.Transport{sse.Transport{}, longpoll.Transport{}, sse.Transport{}} {
		if err := connectOver(t, ctx, url, tr); err != nil {
			t.Fatalf("%s: %v", tr.Name(), err)
		}
	}
	if s, st := relay.counts(); s != 1 || st != 0 {
		t.Fatalf("after SSE and long-poll handshakes: %d Serve, %d stop; want 1, 0", s, st)
	}
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s, st := relay.counts(); s != 1 || st != 1 {
		t.Fatalf("after Close: %d Serve, %d stop; want 1, 1", s, st)
	}
}

// While the Relay cannot be served, SSE and long-poll handshakes are
// refused (the client retries) and WebSocket is not affected; once it
// can, the next handshake succeeds.
func TestRelayServeFailureRefusesHandshakes(t *testing.T) {
	ctx := scaledCtx(t, 30*time.Second)
	relay := &countingRelay{fail: true}
	_, url := start(t, server.Config{Node: "a", Relay: relay})
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := connectOver(t, short, url, sse.Transport{}); err == nil {
		t.Fatal("SSE connected although the Relay could not be served")
	}
	if s, _ := relay.counts(); s == 0 {
		t.Fatal("Serve was not tried")
	}
	if err := connectOver(t, ctx, url, websocket.Transport{}); err != nil {
		t.Fatalf("WebSocket: %v", err)
	}
	relay.mu.Lock()
	relay.fail = false
	relay.mu.Unlock()
	if err := connectOver(t, ctx, url, longpoll.Transport{}); err != nil {
		t.Fatalf("long polling once the Relay is back: %v", err)
	}
}
