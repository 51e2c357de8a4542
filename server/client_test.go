package server_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/internal/serverhooks"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// wait bounds every blocking step of a test; nothing here sleeps.
const wait = 10 * time.Second

// start serves a Server configured by cfg on 127.0.0.1 and returns its base
// URL. Cleanup closes the server and waits for its goroutines.
// start serves a Server made with cfg and, if given, the test hooks h.
func start(t *testing.T, cfg server.Config, h ...serverhooks.Hooks) (*server.Server, string) {
	t.Helper()
	srv := server.New(cfg)
	if len(h) > 0 {
		serverhooks.Install(srv, h[0])
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := srv.Close(ctx); err != nil && err != server.ErrClosed {
			t.Errorf("Close: %v", err)
		}
		ts.Close()
	})
	return srv, ts.URL
}

// client speaks the protocol by hand over the WebSocket transport, frame by
// frame, so tests can see and break everything.
type client struct {
	t      *testing.T
	conn   transport.Conn
	cd     codec.Codec
	frames []codec.Frame // frames of the current message, not yet consumed
}

func dial(t *testing.T, url, codecName string) *client {
	t.Helper()
	return dialWith(t, websocket.Transport{}, url, codecName)
}

func dialWith(t *testing.T, tr transport.Transport, url, codecName string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cd := codec.ByName(codecName)
	conn, err := tr.Dial(ctx, url, transport.Config{Codec: codecName, Binary: cd.Binary()})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &client{t: t, conn: conn, cd: cd}
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

// open dials and completes a new session.
func open(t *testing.T, url string) (*client, codec.Frame) {
	t.Helper()
	c := dial(t, url, "json")
	return c, c.connect("", "", 0)
}

func (c *client) send(frames ...codec.Frame) {
	c.t.Helper()
	msg, err := c.cd.Encode(nil, frames...)
	if err != nil {
		c.t.Fatalf("encode: %v", err)
	}
	c.sendRaw(msg)
}

func (c *client) sendRaw(msg []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.conn.Send(ctx, msg); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// recvMsg returns the frames of the next message, or an error once the
// connection has ended.
func (c *client) recvMsg() ([]codec.Frame, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	msg, err := c.conn.Recv(ctx)
	if err != nil {
		return nil, err
	}
	frames, err := c.cd.Decode(nil, msg)
	if err != nil {
		c.t.Fatalf("decode %q: %v", msg, err)
	}
	return frames, nil
}

// next returns the next frame, pings included.
func (c *client) next() codec.Frame {
	c.t.Helper()
	for len(c.frames) == 0 {
		frames, err := c.recvMsg()
		if err != nil {
			c.t.Fatalf("recv: %v", err)
		}
		c.frames = frames
	}
	f := c.frames[0]
	c.frames = c.frames[1:]
	return f
}

// nextData returns the next frame that is not a ping.
func (c *client) nextData() codec.Frame {
	c.t.Helper()
	for {
		if f := c.next(); f.Type != codec.TypePing {
			return f
		}
	}
}

// expect returns the next frame that is not a ping, which must be of type
// typ.
func (c *client) expect(typ codec.Type) codec.Frame {
	c.t.Helper()
	f := c.nextData()
	if f.Type != typ {
		c.t.Fatalf("got %s frame %+v, want %s", f.Type, f, typ)
	}
	return f
}

// expectError reads until the error frame and then the end of the
// connection.
func (c *client) expectError(code uint16) codec.Frame {
	c.t.Helper()
	f := c.expect(codec.TypeError)
	if f.Code != code {
		c.t.Fatalf("error code %d (%s), want %d", f.Code, f.Reason, code)
	}
	c.expectEnd()
	return f
}

// expectEnd reads until the connection ends; only pings may come.
func (c *client) expectEnd() {
	c.t.Helper()
	for {
		frames, err := c.recvMsg()
		if err != nil {
			return
		}
		for _, f := range frames {
			if f.Type != codec.TypePing {
				c.t.Fatalf("got %+v, want the end of the connection", f)
			}
		}
	}
}

func (c *client) connect(sid, tok string, a uint64) codec.Frame {
	c.t.Helper()
	c.send(codec.Frame{Type: codec.TypeConnect, Version: 1, Session: sid, Token: tok, Ack: a})
	h := c.expect(codec.TypeHello)
	if h.Version != 1 || h.Session == "" || h.Token == "" || h.Heartbeat == 0 {
		c.t.Fatalf("bad hello %+v", h)
	}
	return h
}

// ack expects acks up to a; lower ones may come first, as the server
// may ack the frames of one message one by one.
func (c *client) ack(a uint64) {
	c.t.Helper()
	for {
		f := c.expect(codec.TypeAck)
		if f.Ack == a {
			return
		}
		if f.Ack > a {
			c.t.Fatalf("ack %d, want %d", f.Ack, a)
		}
	}
}

func pub(seq uint64, ch, data string) codec.Frame {
	return codec.Frame{Type: codec.TypePublish, Seq: seq, Channel: ch, Data: []byte(data)}
}

func sub(seq uint64, ch string) codec.Frame {
	return codec.Frame{Type: codec.TypeSubscribe, Seq: seq, Channel: ch}
}

// signal returns a channel that receives a value for each call of the
// returned func, without blocking the caller beyond its buffer.
func signal[T any]() (chan T, func(T)) {
	ch := make(chan T, 1024)
	return ch, func(v T) {
		select {
		case ch <- v:
		default:
		}
	}
}

func recvWithin[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatal("timed out")
		panic("unreachable")
	}
}

func ctxWait(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}
