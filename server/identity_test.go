package server_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

// dialAs dials over WebSocket with "Authorization: Bearer user".
func dialAs(t *testing.T, url, user string) *client {
	t.Helper()
	conn, err := websocket.Transport{}.Dial(ctxWait(t), url, transport.Config{
		Header: http.Header{"Authorization": {"Bearer " + user}},
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &client{t: t, conn: conn, cd: codec.JSON{}}
}

// bearer authenticates "Bearer <user>" as Identity{ID: user}.
func bearer(r *http.Request) (server.Identity, error) {
	user, ok := cutBearer(r.Header.Get("Authorization"))
	if !ok || user == "" {
		return server.Identity{}, errors.New("no token")
	}
	return server.Identity{ID: user}, nil
}

func cutBearer(h string) (string, bool) {
	const p = "Bearer "
	if len(h) < len(p) || h[:len(p)] != p {
		return "", false
	}
	return h[len(p):], true
}

func TestAuthorizeRefusals(t *testing.T) {
	_, url := start(t, server.Config{
		Authenticate: bearer,
		Authorize: func(_ context.Context, a server.Access) error {
			switch {
			case a.Channel == "own:"+a.Client.Identity.ID:
				return nil
			case a.Channel == "later":
				return &server.Refusal{Code: 4600, Reason: "try later"}
			}
			return errors.New("a reason the client must not see")
		},
	})
	c := dialAs(t, url, "ann")
	c.connect("", "", 0)
	c.send(pub(1, "own:ann", "x"), sub(2, "own:bob"), pub(3, "later", "x"))
	var nacks []codec.Frame
	for len(nacks) < 2 {
		if f := c.nextData(); f.Type == codec.TypeNack {
			nacks = append(nacks, f)
		}
	}
	if n := nacks[0]; n.Ref != 2 || n.Code != 4003 || n.Reason != "forbidden" {
		t.Errorf("nack %+v, want ref 2, 4003 forbidden", n)
	}
	if n := nacks[1]; n.Ref != 3 || n.Code != 4600 || n.Reason != "try later" {
		t.Errorf("nack %+v, want ref 3, 4600 try later", n)
	}
}

func TestUnauthenticatedRefused(t *testing.T) {
	_, url := start(t, server.Config{Authenticate: bearer})
	_, err := websocket.Transport{}.Dial(ctxWait(t), url, transport.Config{})
	var he *transport.HandshakeError
	if !errors.As(err, &he) || !he.Unauthorized() {
		t.Fatalf("dial without a token: %v, want 401", err)
	}
}

func TestResumeNeedsSameIdentity(t *testing.T) {
	_, url := start(t, server.Config{Authenticate: bearer})
	c := dialAs(t, url, "ann")
	h := c.connect("", "", 0)
	_ = c.conn.Close()
	other := dialAs(t, url, "bob")
	if h2 := other.connect(h.Session, h.Token, 0); h2.Resumed || h2.Session == h.Session {
		t.Fatalf("another identity resumed the session: %+v", h2)
	}
	same := dialAs(t, url, "ann")
	if h3 := same.connect(h.Session, h.Token, 0); !h3.Resumed {
		t.Fatalf("the owner could not resume: %+v", h3)
	}
}

func TestConnectDisconnectHooks(t *testing.T) {
	connected, onConnect := signal[*server.Client]()
	disconnected, onDisconnect := signal[*server.Client]()
	_, url := start(t, server.Config{
		Authenticate: bearer,
		OnConnect:    onConnect,
		OnDisconnect: onDisconnect,
	})
	c := dialAs(t, url, "ann")
	h := c.connect("", "", 0)
	cl := recvWithin(t, connected)
	if cl.Session != h.Session || cl.Identity.ID != "ann" || cl.Transport != "websocket" {
		t.Fatalf("OnConnect got %+v", cl)
	}
	_ = c.conn.Close()
	if got := recvWithin(t, disconnected); got != cl {
		t.Fatalf("OnDisconnect got %+v, want the client of OnConnect", got)
	}
}

// ctxBroker returns ctx's error after a publish it carried out if ctx
// ended meanwhile, as a remote broker does whose answer was cut short.
type ctxBroker struct {
	*server.LocalBroker
	published atomic.Int32
}

func (b *ctxBroker) Publish(ctx context.Context, m server.Message) error {
	b.published.Add(1)
	if err := b.LocalBroker.Publish(ctx, m); err != nil {
		return err
	}
	return ctx.Err()
}

// Regression: a publish done while its connection was taken over was
// reported as not processed; the client resent it and it was delivered
// twice. Now hooks and the broker get a ctx of their own, and the new
// connection's hello acknowledges the publish.
func TestPublishDuringTakeoverProcessedOnce(t *testing.T) {
	entered, onEnter := signal[uint64]()
	release := make(chan struct{})
	var calls atomic.Int32
	b := &ctxBroker{LocalBroker: server.NewLocalBroker()}
	_, url := start(t, server.Config{
		Broker: b,
		OnPublish: func(ctx context.Context, p server.Publication) error {
			calls.Add(1)
			onEnter(p.Seq)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		},
	})
	c, h := open(t, url)
	c.send(pub(1, "c", "once"))
	recvWithin(t, entered)

	c2 := dial(t, url, "json")
	hello := make(chan codec.Frame, 1)
	go func() {
		// Not c2.connect: t.Fatal belongs to the test goroutine.
		msg, _ := c2.cd.Encode(nil, codec.Frame{Type: codec.TypeConnect, Version: 1, Session: h.Session, Token: h.Token})
		if c2.conn.Send(context.Background(), msg) != nil {
			close(hello)
			return
		}
		for {
			msg, err := c2.conn.Recv(context.Background())
			if err != nil {
				close(hello)
				return
			}
			fs, _ := c2.cd.Decode(nil, msg)
			for _, f := range fs {
				if f.Type == codec.TypeHello {
					hello <- f
					return
				}
			}
		}
	}()
	c.expectEnd() // the takeover ended the first connection
	close(release)
	h2, ok := <-hello
	if !ok || !h2.Resumed || h2.Ack != 1 {
		t.Fatalf("hello %+v, want the session resumed with the publish acknowledged", h2)
	}
	c2.send(pub(1, "c", "once")) // a client that resends anyway
	c2.ack(1)
	if n, m := calls.Load(), b.published.Load(); n != 1 || m != 1 {
		t.Fatalf("OnPublish called %d times, broker %d, want 1 and 1", n, m)
	}
}

// One session's slow OnPublish must not delay another session's publish.
func TestSlowOnPublishIsolated(t *testing.T) {
	entered, onEnter := signal[string]()
	release := make(chan struct{})
	_, url := start(t, server.Config{
		Authenticate: bearer,
		OnPublish: func(ctx context.Context, p server.Publication) error {
			if p.Client.Identity.ID == "slow" {
				onEnter(p.Channel)
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
			return nil
		},
	})
	defer close(release)
	slow := dialAs(t, url, "slow")
	slow.connect("", "", 0)
	slow.send(pub(1, "c", "x"))
	recvWithin(t, entered)
	fast := dialAs(t, url, "fast")
	fast.connect("", "", 0)
	fast.send(pub(1, "c", "y"))
	fast.ack(1) // within the wait, while slow's hook still holds
}
