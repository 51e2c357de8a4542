package mock_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
	"github.com/realtimekit/realtime/transport/sse"
	"github.com/realtimekit/realtime/transport/websocket"
)

var everyTransport = []transport.Transport{websocket.Transport{}, sse.Transport{}, longpoll.Transport{}}

func TestSwitchesOnEveryTransport(t *testing.T) {
	for _, tr := range everyTransport {
		t.Run(tr.Name(), func(t *testing.T) {
			s := newServer(t, nil)
			c := connectWith(t, tr, s.URL(), nil, 0)
			c.send(pub(1, "c", "x"))
			c.expect(codec.TypeAck)
			if err := s.WaitConns(ctxWait(t), 1); err != nil {
				t.Fatal(err)
			}
			s.InjectFrames(codec.Frame{Type: codec.TypeMessage, Seq: 9, Channel: "c"})
			if m := c.expect(codec.TypeMessage); m.Seq != 9 {
				t.Fatalf("injected %+v", m)
			}

			s.DropConnections()
			c.expectEnd()
			if err := s.WaitConns(ctxWait(t), 0); err != nil {
				t.Fatal(err)
			}
			c2 := connectWith(t, tr, s.URL(), &c.hello, 0)
			if !c2.hello.Resumed {
				t.Fatal("not resumed after a drop")
			}

			s.RefuseTransport(tr.Name(), http.StatusForbidden)
			_, err := dialWith(ctxWait(t), t, tr, s.URL())
			var he *transport.HandshakeError
			if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden {
				t.Fatalf("refused dial: %v", err)
			}
			s.RefuseTransport(tr.Name(), 0)

			s.AcceptThenClose(tr.Name(), true)
			if c3, err := dialWith(ctxWait(t), t, tr, s.URL()); err == nil {
				// The connect may find the connection already gone (over
				// long polling the held poll can learn of the close first,
				// as it did under qemu): either way the connection ends.
				msg, err := c3.cd.Encode(nil, codec.Frame{Type: codec.TypeConnect, Version: 1})
				if err != nil {
					t.Fatal(err)
				}
				_ = c3.conn.Send(ctxWait(t), msg)
				c3.expectEnd()
			}
			s.AcceptThenClose(tr.Name(), false)
			if got := s.Transports()[tr.Name()]; got != 3 {
				t.Fatalf("%s accepted %d connections, want 3", tr.Name(), got)
			}
		})
	}
}

func TestBufferSSE(t *testing.T) {
	s := newServer(t, nil)
	s.BufferSSE(true)
	// The stream's header arrives but its open event never does, so the
	// dial waits until its deadline, as behind a buffering proxy.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := dialWith(ctx, t, sse.Transport{}, s.URL()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial through a buffered stream: %v, want the deadline", err)
	}
	s.BufferSSE(false)
	connectWith(t, sse.Transport{}, s.URL(), nil, 0)
}

func TestSlowPoll(t *testing.T) {
	const delay = 100 * time.Millisecond
	s := newServer(t, nil)
	s.SlowPoll(delay)
	start := time.Now()
	c := connectWith(t, longpoll.Transport{}, s.URL(), nil, 0)
	// Opening, then the poll that brings hello: two delayed responses.
	if d := time.Since(start); d < 2*delay {
		t.Fatalf("hello after %v, want at least %v", d, 2*delay)
	}
	s.SlowPoll(0)
	c.send(pub(1, "c", "x"))
	c.expect(codec.TypeAck)
}
