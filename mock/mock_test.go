package mock_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/server"
)

func TestURLIsLoopback(t *testing.T) {
	s := newServer(t, nil)
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %q", s.URL())
	}
	if mock.New(nil).URL() != "" {
		t.Fatal("New must not listen")
	}
}

func TestReceivedAndWaitReceived(t *testing.T) {
	s := newServer(t, nil)
	c := connect(t, s.URL(), nil, 0)
	c.send(pub(1, "chat", "hi"), pub(2, "chat", "there"))
	msgs, err := s.WaitReceived(ctxWait(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"hi", "there"} {
		m := msgs[i]
		if m.Session != c.hello.Session || m.Channel != "chat" || string(m.Data) != want || m.Seq != uint64(i+1) {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
	msgs[0].Data[0] = 'X'
	if string(s.Received()[0].Data) != "hi" {
		t.Fatal("Received does not return copies")
	}
	if msgs[0].Header != nil {
		t.Fatalf("header %v of a publish without one", msgs[0].Header)
	}
	withHeader := pub(3, "chat", "h")
	withHeader.Header = map[string]string{"traceparent": "00-ab-cd-01"}
	c.send(withHeader)
	if msgs, err = s.WaitReceived(ctxWait(t), 3); err != nil {
		t.Fatal(err)
	}
	if h := msgs[2].Header; len(h) != 1 || h["traceparent"] != "00-ab-cd-01" {
		t.Fatalf("received header %v", h)
	}
	msgs[2].Header["traceparent"] = "changed"
	if s.Received()[2].Header["traceparent"] != "00-ab-cd-01" {
		t.Fatal("Received does not copy headers")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WaitReceived(ctx, 4); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitReceived on an ended ctx: %v", err)
	}
}

func TestPublishReachesSubscribers(t *testing.T) {
	s := newServer(t, nil)
	c := connect(t, s.URL(), nil, 0)
	c.send(sub(1, "news"))
	c.expect(codec.TypeAck)
	if err := s.Publish(ctxWait(t), "news", []byte("extra")); err != nil {
		t.Fatal(err)
	}
	if m := c.expect(codec.TypeMessage); string(m.Data) != "extra" || m.Seq != 1 {
		t.Fatalf("got %+v", m)
	}
	if len(s.Received()) != 0 {
		t.Fatal("a server publish was recorded as received")
	}
}

func TestCountsAndWaitFor(t *testing.T) {
	s := newServer(t, nil)
	if s.Conns() != 0 || s.Sessions() != 0 {
		t.Fatal("not empty at start")
	}
	a := connect(t, s.URL(), nil, 0)
	connect(t, s.URL(), nil, 0)
	if err := s.WaitConns(ctxWait(t), 2); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitFor(ctxWait(t), func() bool { return s.Sessions() == 2 }); err != nil {
		t.Fatal(err)
	}
	a.send(codec.Frame{Type: codec.TypeClose})
	if err := s.WaitFor(ctxWait(t), func() bool { return s.Sessions() == 1 && s.Conns() == 1 }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.WaitFor(ctx, func() bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor: %v", err)
	}
	if got := s.Transports()["websocket"]; got != 2 {
		t.Fatalf("websocket accepted %d", got)
	}
}

func TestCloseIsIdempotentAndEndsConnections(t *testing.T) {
	s := mock.NewServer(nil)
	c := connect(t, s.URL(), nil, 0)
	s.Close()
	s.Close()
	if f := c.expect(codec.TypeError); f.Code != 1001 {
		t.Fatalf("got %+v, want error 1001", f)
	}
	if _, err := dial(t, s.URL()); err == nil {
		t.Fatal("dial after Close succeeded")
	}
}

func TestAuthorize(t *testing.T) {
	s := newServer(t, &mock.Options{Server: server.Config{Authenticate: func(r *http.Request) (server.Identity, error) {
		return server.Identity{}, errors.New("no")
	}}})
	_, err := dial(t, s.URL())
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("dial: %v, want a 401 refusal", err)
	}
}

func TestOptions(t *testing.T) {
	// Not the default, and long enough that the server's wait for connect
	// (1.5 heartbeats) never races a loaded machine.
	s := newServer(t, &mock.Options{Server: server.Config{Heartbeat: 2 * time.Second, MaxMessage: 512}})
	c := connect(t, s.URL(), nil, 0)
	if c.hello.Heartbeat != 2000 {
		t.Fatalf("hb %d", c.hello.Heartbeat)
	}
	if err := s.Publish(ctxWait(t), "c", make([]byte, 600)); err == nil {
		t.Fatal("publish over MaxMessage accepted")
	}
}

func TestMaxReceived(t *testing.T) {
	s := newServer(t, &mock.Options{MaxReceived: 2})
	c := connect(t, s.URL(), nil, 0)
	c.send(pub(1, "c", "a"), pub(2, "c", "b"), pub(3, "c", "c"))
	msgs, err := s.WaitReceived(ctxWait(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || string(msgs[0].Data) != "b" || string(msgs[1].Data) != "c" {
		t.Fatalf("kept %+v, want the last two", msgs)
	}
}
