package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/serverhooks"
	"github.com/realtimekit/realtime/server"
)

// publishN publishes n messages "0", "1", ... on channel from the server.
func publishN(t *testing.T, srv *server.Server, channel string, n int) {
	t.Helper()
	for i := range n {
		if err := srv.Publish(ctxWait(t), channel, fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResumeReplaysUnacked(t *testing.T) {
	srv, url := start(t, server.Config{})
	c, h := open(t, url)
	c.send(sub(1, "c"))
	c.ack(1)
	publishN(t, srv, "c", 3)
	for i := 1; i <= 3; i++ {
		c.expect(codec.TypeMessage)
	}
	_ = c.conn.Close() // processed only msg 1

	c2 := dial(t, url, "json")
	h2 := c2.connect(h.Session, h.Token, 1)
	if !h2.Resumed || h2.Session != h.Session || h2.Token == h.Token || h2.Ack != 1 {
		t.Fatalf("hello %+v, want the session resumed with a new token and a=1", h2)
	}
	for _, want := range []uint64{2, 3} {
		if m := c2.expect(codec.TypeMessage); m.Seq != want {
			t.Fatalf("replayed seq %d, want %d", m.Seq, want)
		}
	}
	c2.ack(1)

	// Once the client has shown it holds the new token (resuming with it),
	// the one before no longer works. (Until then it does: the hello that
	// carried the new one may have been lost.)
	c3 := dial(t, url, "json")
	if h3 := c3.connect(h.Session, h2.Token, 3); !h3.Resumed {
		t.Fatalf("current token refused: %+v", h3)
	}
	c4 := dial(t, url, "json")
	if h4 := c4.connect(h.Session, h.Token, 3); h4.Resumed || h4.Session == h.Session {
		t.Fatalf("stale token resumed: %+v", h4)
	}
}

func TestReplayIsOneBatch(t *testing.T) {
	cfg, closed := connClosed()
	srv, url := start(t, server.Config{}, cfg)
	c, h := open(t, url)
	c.send(sub(1, "c"))
	c.ack(1)
	_ = c.conn.Close()
	waitFor(t, func() bool { return srv.Stats().Conns == 0 }, closed)

	publishN(t, srv, "c", 50) // kept while the session has no connection
	c2 := dial(t, url, "json")
	c2.connect(h.Session, h.Token, 0)
	frames, err := c2.recvMsg()
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 51 || frames[0].Seq != 1 || frames[49].Seq != 50 || frames[50].Type != codec.TypeAck {
		t.Fatalf("replay of %d frames: first %+v last %+v", len(frames), frames[0], frames[len(frames)-1])
	}
}

// waitFor re-checks cond each time changed receives, within the deadline.
func waitFor[T any](t *testing.T, cond func() bool, changed <-chan T) {
	t.Helper()
	deadline := time.After(wait)
	for !cond() {
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("condition not met in time (conns %d, sessions %d)", -1, -1)
		}
	}
}

// connClosed returns a Config whose OnConnClose signals the channel.
func connClosed() (serverhooks.Hooks, <-chan string) {
	ch, record := signal[string]()
	return serverhooks.Hooks{OnConnClose: func(_ *serverhooks.Conn, id string) { record(id) }}, ch
}

func TestExpiredSessionNotResumed(t *testing.T) {
	ended, record := signal[string]()
	srv, url := start(t, server.Config{ResumeWindow: 50 * time.Millisecond},
		serverhooks.Hooks{OnSessionEnd: func(id string, _ uint16) { record(id) }})
	c, h := open(t, url)
	_ = c.conn.Close()
	if id := recvWithin(t, ended); id != h.Session {
		t.Fatalf("ended %s, want %s", id, h.Session)
	}
	if n := srv.Stats().Sessions; n != 0 {
		t.Fatalf("%d sessions after expiry", n)
	}
	c2 := dial(t, url, "json")
	if h2 := c2.connect(h.Session, h.Token, 0); h2.Resumed || h2.Session == h.Session || h2.Ack != 0 {
		t.Fatalf("hello %+v, want a new session", h2)
	}
}

func TestExpireSessionsKeepsLiveConnections(t *testing.T) {
	cfg, closed := connClosed()
	srv, url := start(t, server.Config{}, cfg)
	c, h := open(t, url)
	idle, hi := open(t, url)
	_ = idle.conn.Close()
	waitFor(t, func() bool { return srv.Stats().Conns == 1 }, closed)
	serverhooks.ExpireSessions(srv)
	if n := srv.Stats().Sessions; n != 1 {
		t.Fatalf("%d sessions, want the one with a connection", n)
	}
	c.send(pub(1, "c", "still works"))
	c.ack(1)
	for _, old := range []codec.Frame{h, hi} {
		c2 := dial(t, url, "json")
		if h2 := c2.connect(old.Session, old.Token, 0); h2.Resumed {
			t.Fatalf("expired session %s resumed", old.Session)
		}
	}
}

func TestCloseFrameForgetsSession(t *testing.T) {
	ended, record := signal[string]()
	srv, url := start(t, server.Config{}, serverhooks.Hooks{OnSessionEnd: func(id string, _ uint16) { record(id) }})
	c, h := open(t, url)
	c.send(codec.Frame{Type: codec.TypeClose, Code: 1000})
	c.expectEnd()
	recvWithin(t, ended)
	if n := srv.Stats().Sessions; n != 0 {
		t.Fatalf("%d sessions after close", n)
	}
	c2 := dial(t, url, "json")
	if h2 := c2.connect(h.Session, h.Token, 0); h2.Resumed {
		t.Fatal("closed session resumed")
	}
}

func TestTakeover(t *testing.T) {
	cfg, closed := connClosed()
	srv, url := start(t, server.Config{}, cfg)
	c, h := open(t, url)
	c2 := dial(t, url, "json")
	if h2 := c2.connect(h.Session, h.Token, 0); !h2.Resumed {
		t.Fatal("not resumed")
	}
	c.expectEnd()
	c2.ack(0)
	waitFor(t, func() bool { return srv.Stats().Conns == 1 }, closed)
	if n := srv.Stats().Sessions; n != 1 {
		t.Fatalf("%d sessions", n)
	}
}

func TestWindowWithoutAcks(t *testing.T) {
	srv, url := start(t, server.Config{})
	c, _ := open(t, url)
	c.send(sub(1, "c"))
	c.ack(1)
	publishN(t, srv, "c", server.Window+500)
	for i := 1; i <= server.Window; i++ {
		if m := c.expect(codec.TypeMessage); m.Seq != uint64(i) {
			t.Fatalf("seq %d, want %d", m.Seq, i)
		}
	}
	// The writer puts kept frames within the window before an ack, so had
	// it gone beyond the window, a msg would come before this ack.
	c.send(pub(2, "other", "x"))
	c.ack(2)
	c.send(codec.Frame{Type: codec.TypeAck, Ack: 1000})
	for i := server.Window + 1; i <= server.Window+500; i++ {
		if m := c.expect(codec.TypeMessage); m.Seq != uint64(i) {
			t.Fatalf("seq %d, want %d", m.Seq, i)
		}
	}
}

func TestSlowConsumerEnded(t *testing.T) {
	ended, record := signal[uint16]()
	srv, url := start(t, server.Config{SessionBuffer: 16},
		serverhooks.Hooks{OnSessionEnd: func(_ string, code uint16) { record(code) }})
	c, _ := open(t, url)
	c.send(sub(1, "c"))
	c.ack(1)
	publishN(t, srv, "c", 17)
	for {
		f := c.nextData()
		if f.Type == codec.TypeError {
			if f.Code != 4503 {
				t.Fatalf("error %+v, want 4503", f)
			}
			break
		}
	}
	c.expectEnd()
	if code := recvWithin(t, ended); code != 4503 {
		t.Fatalf("session ended with %d", code)
	}
	if n := srv.Stats().Sessions; n != 0 {
		t.Fatalf("%d sessions", n)
	}
}

func TestHeartbeat(t *testing.T) {
	_, url := start(t, server.Config{Heartbeat: 50 * time.Millisecond})
	c, h := open(t, url)
	if h.Heartbeat != 50 {
		t.Fatalf("hb %d", h.Heartbeat)
	}
	start := time.Now()
	if f := c.next(); f.Type != codec.TypePing {
		t.Fatalf("got %+v, want ping", f)
	}
	// The client stays silent: the server gives up after hb + hb/2.
	c.expectEnd()
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("closed after %v, before the grace", d)
	}
}

func TestCloseSendsGoingAway(t *testing.T) {
	srv, url := start(t, server.Config{})
	c, _ := open(t, url)
	closed := make(chan error, 1)
	go func() { closed <- srv.Close(context.Background()) }()
	c.expectError(1001)
	if err := recvWithin(t, closed); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(ctxWait(t)); err != server.ErrClosed {
		t.Fatalf("second Close: %v", err)
	}
}
