package server_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/serverhooks"
	"github.com/realtimekit/realtime/server"
)

// A peer that keeps sending (so it looks alive) but never reads must not
// hold the server's writer forever: once a send has waited 1.5 heartbeats
// the connection ends.
func TestSendNotTakenEndsConnection(t *testing.T) {
	const hb = 200 * time.Millisecond
	closed, onClose := signal[string]()
	srv, url := start(t, server.Config{Heartbeat: hb},
		serverhooks.Hooks{OnConnClose: func(_ *serverhooks.Conn, session string) { onClose(session) }})
	c, h := open(t, url)
	c.send(sub(1, "big"))
	c.ack(1)

	// Pings from a goroutine of its own; the test goroutine never reads.
	ping, err := c.cd.Encode(nil, codec.Frame{Type: codec.TypePing})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		tick := time.NewTicker(hb / 4)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), hb)
			err := c.conn.Send(ctx, ping)
			cancel()
			if err != nil {
				return
			}
		}
	}()
	defer func() { close(done); <-pinged }()

	// Enough to fill both ends' socket buffers many times over: the
	// server keeps them in the session and its writer blocks in a send.
	data := bytes.Repeat([]byte("x"), 60<<10)
	ctx := ctxWait(t)
	start := time.Now()
	for i := 0; i < 1000; i++ {
		if err := srv.Publish(ctx, "big", data); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		select {
		case s := <-closed:
			if s != h.Session {
				t.Fatalf("closed session %q, want %q", s, h.Session)
			}
			t.Logf("connection ended %v after the first publish, %d publishes in", time.Since(start).Round(time.Millisecond), i+1)
			return
		default:
		}
	}
	select {
	case <-closed:
		t.Logf("connection ended %v after the first publish", time.Since(start).Round(time.Millisecond))
	case <-time.After(20 * hb):
		t.Fatalf("a connection whose peer never reads is still open %v after the first publish", time.Since(start))
	}
}
