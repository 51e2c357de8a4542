package server_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	ws "github.com/coder/websocket"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/serverhooks"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

func TestNewSessionHello(t *testing.T) {
	_, url := start(t, server.Config{})
	_, h := open(t, url)
	if h.Resumed || h.Ack != 0 || h.Heartbeat != 15000 {
		t.Fatalf("hello %+v, want a new session with hb 15000", h)
	}
}

func TestPublishAcked(t *testing.T) {
	got, record := signal[server.Publication]()
	_, url := start(t, server.Config{OnPublish: func(_ context.Context, p server.Publication) error {
		p.Data = bytes.Clone(p.Data)
		record(p)
		return nil
	}})
	c, h := open(t, url)
	c.send(pub(1, "chat", "hello"))
	c.ack(1)
	p := recvWithin(t, got)
	if p.Client.Session != h.Session || p.Channel != "chat" || string(p.Data) != "hello" || p.Seq != 1 {
		t.Fatalf("publication %+v", p)
	}
}

func TestSubscribeReceivesInOrder(t *testing.T) {
	srv, url := start(t, server.Config{})
	c, _ := open(t, url)
	c.send(sub(1, "news"))
	c.ack(1)
	for _, d := range []string{"a", "b", "c"} {
		if err := srv.Publish(ctxWait(t), "news", []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	for i, d := range []string{"a", "b", "c"} {
		m := c.expect(codec.TypeMessage)
		if m.Seq != uint64(i+1) || m.Channel != "news" || string(m.Data) != d {
			t.Fatalf("msg %+v, want seq %d data %q", m, i+1, d)
		}
	}
	// The publisher's own session gets its publish when subscribed.
	c.send(pub(2, "news", "own"), codec.Frame{Type: codec.TypeAck, Ack: 3})
	var sawMsg, sawAck bool
	for !sawMsg || !sawAck {
		switch f := c.nextData(); f.Type {
		case codec.TypeMessage:
			sawMsg = f.Seq == 4 && string(f.Data) == "own"
		case codec.TypeAck:
			sawAck = f.Ack == 2
		}
	}
}

func TestFanOutSameOrderForAll(t *testing.T) {
	srv, url := start(t, server.Config{})
	a, _ := open(t, url)
	b, _ := open(t, url)
	for _, c := range []*client{a, b} {
		c.send(sub(1, "x"))
		c.ack(1)
	}
	a.send(pub(2, "x", "from-a"))
	if err := srv.Publish(ctxWait(t), "x", []byte("from-srv")); err != nil {
		t.Fatal(err)
	}
	order := func(c *client) []string {
		var out []string
		for len(out) < 2 {
			if f := c.nextData(); f.Type == codec.TypeMessage {
				out = append(out, string(f.Data))
			}
		}
		return out
	}
	oa, ob := order(a), order(b)
	if strings.Join(oa, ",") != strings.Join(ob, ",") {
		t.Fatalf("orders differ: %v and %v", oa, ob)
	}
}

func TestUnsubscribe(t *testing.T) {
	srv, url := start(t, server.Config{})
	c, _ := open(t, url)
	c.send(sub(1, "a"), sub(2, "b"), codec.Frame{Type: codec.TypeUnsub, Seq: 3, Channel: "a"})
	c.ack(3)
	for _, ch := range []string{"a", "b"} {
		if err := srv.Publish(ctxWait(t), ch, []byte(ch)); err != nil {
			t.Fatal(err)
		}
	}
	if m := c.expect(codec.TypeMessage); m.Channel != "b" || m.Seq != 1 {
		t.Fatalf("got %+v, want only channel b", m)
	}
}

func TestNackBeforeAck(t *testing.T) {
	_, url := start(t, server.Config{OnPublish: func(_ context.Context, p server.Publication) error {
		switch p.Channel {
		case "deny":
			return &server.Refusal{Code: 4100, Reason: "not here"}
		case "boom":
			return errors.New("database down")
		}
		return nil
	}})
	c, _ := open(t, url)
	c.send(pub(1, "deny", "x"), pub(2, "ok", "y"), pub(3, "boom", "z"), pub(4, "bad\x01name", ""))
	// Acks may come between the nacks; none may cover a nack not yet seen.
	want := map[uint64]uint16{1: 4100, 3: 5000, 4: 4010}
	seen := map[uint64]bool{}
	for {
		f := c.nextData()
		switch f.Type {
		case codec.TypeNack:
			if want[f.Ref] != f.Code || f.Reason == "" || f.Seq != uint64(len(seen)+1) {
				t.Fatalf("nack %+v", f)
			}
			seen[f.Ref] = true
		case codec.TypeAck:
			for ref := range want {
				if ref <= f.Ack && !seen[ref] {
					t.Fatalf("ack %d before the nack of %d", f.Ack, ref)
				}
			}
			if f.Ack == 4 {
				return
			}
		default:
			t.Fatalf("unexpected %+v", f)
		}
	}
}

func TestDuplicateDroppedButAcked(t *testing.T) {
	calls, record := signal[uint64]()
	_, url := start(t, server.Config{OnPublish: func(_ context.Context, p server.Publication) error {
		record(p.Seq)
		return nil
	}})
	c, h := open(t, url)
	c.send(pub(1, "c", "one"))
	c.ack(1)
	_ = c.conn.Close()

	c2 := dial(t, url, "json")
	h2 := c2.connect(h.Session, h.Token, 0)
	if !h2.Resumed || h2.Ack != 1 {
		t.Fatalf("hello %+v, want resumed with a=1", h2)
	}
	c2.ack(1) // the ack that follows the (empty) replay
	c2.send(pub(1, "c", "one"), pub(2, "c", "two"))
	c2.ack(2)
	if a, b := recvWithin(t, calls), recvWithin(t, calls); a != 1 || b != 2 || len(calls) != 0 {
		t.Fatalf("OnPublish saw %d, %d and %d more; want 1, 2", a, b, len(calls))
	}
}

func TestSequenceViolations(t *testing.T) {
	_, url := start(t, server.Config{})
	t.Run("gap", func(t *testing.T) {
		c, _ := open(t, url)
		c.send(pub(2, "c", "x"))
		c.expectError(4500)
	})
	t.Run("not increasing", func(t *testing.T) {
		c, _ := open(t, url)
		c.send(pub(1, "c", "x"))
		c.ack(1)
		c.send(pub(1, "c", "x"))
		c.expectError(4500)
	})
	t.Run("ack beyond sent", func(t *testing.T) {
		c, _ := open(t, url)
		c.send(codec.Frame{Type: codec.TypeAck, Ack: 5})
		c.expectError(4500)
	})
	t.Run("missing seq", func(t *testing.T) {
		c, _ := open(t, url)
		c.send(codec.Frame{Type: codec.TypePublish, Channel: "c"})
		c.expectError(4000)
	})
	t.Run("server frame type", func(t *testing.T) {
		c, _ := open(t, url)
		c.send(codec.Frame{Type: codec.TypeMessage, Seq: 1, Channel: "c"})
		c.expectError(4000)
	})
}

func TestBadInput(t *testing.T) {
	_, url := start(t, server.Config{MaxMessage: 1024})
	t.Run("malformed", func(t *testing.T) {
		c, _ := open(t, url)
		c.sendRaw([]byte("{not json"))
		c.expectError(4000)
	})
	t.Run("malformed first", func(t *testing.T) {
		c := dial(t, url, "json")
		c.sendRaw([]byte(`{"t":"nope"}`))
		c.expectError(4000)
	})
	t.Run("not connect first", func(t *testing.T) {
		c := dial(t, url, "json")
		c.send(pub(1, "c", "x"))
		c.expectError(4000)
	})
	t.Run("version", func(t *testing.T) {
		c := dial(t, url, "json")
		c.send(codec.Frame{Type: codec.TypeConnect, Version: 2})
		c.expectError(4005)
	})
	t.Run("too large", func(t *testing.T) {
		c, _ := open(t, url)
		c.send(pub(1, "c", strings.Repeat("x", 2000)))
		// coder/websocket enforces the read limit itself and closes with
		// 1009 before the server can send error 4009.
		frames, err := c.recvMsg()
		if err == nil {
			if len(frames) != 1 || frames[0].Type != codec.TypeError || frames[0].Code != 4009 {
				t.Fatalf("got %+v, want error 4009", frames)
			}
			c.expectEnd()
		} else if ws.CloseStatus(err) != ws.StatusMessageTooBig {
			t.Fatalf("connection ended with %v, want error 4009 or close status 1009", err)
		}
	})
	t.Run("cbor garbage", func(t *testing.T) {
		c := dial(t, url, "cbor")
		c.sendRaw([]byte{0xff, 0x00, 0x13})
		c.expectError(4000)
	})
}

func TestHandshakeChecks(t *testing.T) {
	_, url := start(t, server.Config{
		Authenticate: func(r *http.Request) (server.Identity, error) {
			if r.Header.Get("Authorization") != "Bearer ok" {
				return server.Identity{}, errors.New("no")
			}
			return server.Identity{ID: "ok"}, nil
		},
	}, serverhooks.Hooks{
		Handshake: func(name string, r *http.Request) int {
			if r.URL.Query().Get("proxy") == "block" {
				return http.StatusForbidden
			}
			return 0
		},
	})
	dialStatus := func(base string, h http.Header) int {
		_, err := websocket.Transport{}.Dial(ctxWait(t), base, transport.Config{Header: h})
		var he *transport.HandshakeError
		if !errors.As(err, &he) {
			t.Fatalf("dial %s: %v, want a handshake error", base, err)
		}
		return he.StatusCode
	}
	if got := dialStatus(url, nil); got != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", got)
	}
	auth := http.Header{"Authorization": {"Bearer ok"}}
	if got := dialStatus(url+"?proxy=block", auth); got != http.StatusForbidden {
		t.Errorf("hook: %d, want 403", got)
	}
	for _, q := range []string{"v=2&codec=json", "v=1&codec=xml"} {
		req, _ := http.NewRequestWithContext(ctxWait(t), http.MethodGet, url+"/ws?"+q, nil)
		req.Header = auth
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, resp.StatusCode)
		}
	}
	c, err := websocket.Transport{}.Dial(ctxWait(t), url, transport.Config{Header: auth})
	if err != nil {
		t.Fatalf("authorized dial: %v", err)
	}
	_ = c.Close()
}

func TestCBORBinaryPayload(t *testing.T) {
	srv, url := start(t, server.Config{})
	c := dial(t, url, "cbor")
	c.connect("", "", 0)
	c.send(sub(1, "bin"))
	c.ack(1)
	payload := []byte{0, 0xff, 0xfe, 'x'}
	if err := srv.Publish(ctxWait(t), "bin", payload); err != nil {
		t.Fatal(err)
	}
	if m := c.expect(codec.TypeMessage); !bytes.Equal(m.Data, payload) {
		t.Fatalf("data %x, want %x", m.Data, payload)
	}
}

func TestServerPublishChecks(t *testing.T) {
	srv, _ := start(t, server.Config{MaxMessage: 1024})
	if err := srv.Publish(ctxWait(t), "", nil); !errors.Is(err, server.ErrInvalidChannel) {
		t.Errorf("empty channel: %v", err)
	}
	if err := srv.Publish(ctxWait(t), "c", make([]byte, 1024)); !errors.Is(err, server.ErrTooLarge) {
		t.Errorf("large: %v", err)
	}
	if err := srv.Publish(ctxWait(t), "c", make([]byte, 100)); err != nil {
		t.Errorf("small: %v", err)
	}
}

func TestLimits(t *testing.T) {
	_, url := start(t, server.Config{MaxSessions: 1, MaxSubscriptions: 1})
	c, _ := open(t, url)
	c.send(sub(1, "a"), sub(2, "a"), sub(3, "b"))
	f := c.nextData()
	for f.Type == codec.TypeAck && f.Ack < 3 {
		f = c.nextData()
	}
	if f.Type != codec.TypeNack || f.Ref != 3 || f.Code != 4003 {
		t.Fatalf("got %+v, want the third subscribe refused with 4003", f)
	}
	c.ack(3)

	c2 := dial(t, url, "json")
	c2.send(codec.Frame{Type: codec.TypeConnect, Version: 1})
	c2.expectError(4529)
}
