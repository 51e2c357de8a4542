package mock_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/transport"
)

func TestNack(t *testing.T) {
	s := newServer(t, nil)
	s.Nack(func(m mock.Message) (uint16, string) {
		if m.Channel == "secret" {
			return 4403, "not for you"
		}
		return 0, ""
	})
	c := connect(t, s.URL(), nil, 0)
	c.send(pub(1, "secret", "x"), pub(2, "open", "y"))
	n := c.expect(codec.TypeNack)
	if n.Ref != 1 || n.Code != 4403 || n.Reason != "not for you" {
		t.Fatalf("nack %+v", n)
	}
	msgs, err := s.WaitReceived(ctxWait(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Channel != "open" {
		t.Fatalf("recorded %+v, want only the accepted publish", msgs)
	}
	s.Nack(nil)
	c.send(pub(3, "secret", "z"))
	if _, err := s.WaitReceived(ctxWait(t), 2); err != nil {
		t.Fatal(err)
	}
}

func TestDropConnectionsKeepsSessions(t *testing.T) {
	s := newServer(t, nil)
	c := connect(t, s.URL(), nil, 0)
	c.send(sub(1, "c"))
	c.expect(codec.TypeAck)
	s.DropConnections()
	c.expectEnd()
	if err := s.WaitConns(ctxWait(t), 0); err != nil {
		t.Fatal(err)
	}
	if s.Sessions() != 1 {
		t.Fatalf("%d sessions", s.Sessions())
	}
	if err := s.Publish(ctxWait(t), "c", []byte("while away")); err != nil {
		t.Fatal(err)
	}
	c2 := connect(t, s.URL(), &c.hello, 0)
	if !c2.hello.Resumed || c2.hello.Ack != 1 {
		t.Fatalf("hello %+v, want resumed", c2.hello)
	}
	if m := c2.expect(codec.TypeMessage); string(m.Data) != "while away" {
		t.Fatalf("replayed %+v", m)
	}
}

func TestExpireSessionsAndRestart(t *testing.T) {
	for _, restart := range []bool{false, true} {
		s := newServer(t, nil)
		c := connect(t, s.URL(), nil, 0)
		if restart {
			s.Restart()
		} else {
			s.ExpireSessions()
			s.DropConnections()
		}
		c.expectEnd()
		if err := s.WaitFor(ctxWait(t), func() bool { return s.Sessions() == 0 }); err != nil {
			t.Fatal(err)
		}
		if c2 := connect(t, s.URL(), &c.hello, 0); c2.hello.Resumed || c2.hello.Session == c.hello.Session {
			t.Fatalf("restart=%v: hello %+v, want a new session", restart, c2.hello)
		}
	}
}

func TestInject(t *testing.T) {
	s := newServer(t, nil)
	c := connect(t, s.URL(), nil, 0)
	if err := s.WaitConns(ctxWait(t), 1); err != nil {
		t.Fatal(err)
	}
	s.Inject([]byte("{garbage"))
	if msg, err := c.recv(); err != nil || string(msg) != "{garbage" {
		t.Fatalf("got %q, %v", msg, err)
	}
	s.InjectFrames(codec.Frame{Type: codec.TypeMessage, Seq: 7, Channel: "c", Data: []byte("x")},
		codec.Frame{Type: codec.TypeMessage, Seq: 3, Channel: "c"})
	frames := c.recvMsg()
	if len(frames) != 2 || frames[0].Seq != 7 || frames[1].Seq != 3 {
		t.Fatalf("got %+v", frames)
	}
}

func TestRefuseTransport(t *testing.T) {
	s := newServer(t, nil)
	for _, status := range []int{http.StatusForbidden, http.StatusUpgradeRequired, http.StatusUnauthorized} {
		s.RefuseTransport("websocket", status)
		_, err := dial(t, s.URL())
		var he *transport.HandshakeError
		if !errors.As(err, &he) || he.StatusCode != status {
			t.Fatalf("dial: %v, want status %d", err, status)
		}
	}
	if n := s.Transports()["websocket"]; n != 0 {
		t.Fatalf("%d websocket connections accepted", n)
	}
	s.RefuseTransport("websocket", 0)
	connect(t, s.URL(), nil, 0)
}

func TestAcceptThenClose(t *testing.T) {
	s := newServer(t, nil)
	s.AcceptThenClose("websocket", true)
	c, err := dial(t, s.URL())
	if err != nil {
		t.Fatalf("handshake refused: %v", err)
	}
	c.expectEnd()
	if n := s.Transports()["websocket"]; n != 1 {
		t.Fatalf("%d websocket connections accepted", n)
	}
	s.AcceptThenClose("websocket", false)
	connect(t, s.URL(), nil, 0)
}

// A refused publish makes the server send a nack and compute the ack in
// the same batch, so the nack's message shows whether its ack went out.
func refuseAll(s *mock.Server) {
	s.Nack(func(mock.Message) (uint16, string) { return 4100, "no" })
}

func TestDropAcks(t *testing.T) {
	s := newServer(t, nil)
	refuseAll(s)
	s.DropAcks(true)
	c := connect(t, s.URL(), nil, 0)
	c.send(pub(1, "c", "x"))
	if frames := c.recvMsg(); len(frames) != 1 || frames[0].Type != codec.TypeNack {
		t.Fatalf("got %+v, want the nack alone", frames)
	}
	s.DropAcks(false)
	s.Nack(nil)
	c.send(pub(2, "c", "y"))
	if a := c.expect(codec.TypeAck); a.Ack != 2 {
		t.Fatalf("ack %d, want 2", a.Ack)
	}
}

func TestDelayAcks(t *testing.T) {
	const delay = 150 * time.Millisecond
	s := newServer(t, nil)
	refuseAll(s)
	s.DelayAcks(delay)
	c := connect(t, s.URL(), nil, 0)
	sent := time.Now()
	c.send(pub(1, "c", "x"))
	if frames := c.recvMsg(); len(frames) != 1 || frames[0].Type != codec.TypeNack {
		t.Fatalf("got %+v, want the nack alone", frames)
	}
	if a := c.expect(codec.TypeAck); a.Ack != 1 {
		t.Fatalf("ack %d, want 1", a.Ack)
	}
	if d := time.Since(sent); d < delay {
		t.Fatalf("ack after %v, want at least %v", d, delay)
	}
	s.DelayAcks(0)
}

func TestDropEvery(t *testing.T) {
	s := newServer(t, nil)
	s.DropEvery(4) // connect, hello, pub, ack
	c := connect(t, s.URL(), nil, 0)
	c.send(pub(1, "c", "x"))
	c.expect(codec.TypeAck)
	c.expectEnd()
	c2 := connect(t, s.URL(), &c.hello, 0)
	if !c2.hello.Resumed {
		t.Fatal("session lost")
	}
	s.DropEvery(0)
	c2.expect(codec.TypeAck) // the ack after the replay
	c2.send(pub(2, "c", "y"))
	c2.expect(codec.TypeAck)
}
