package mock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// wait bounds every blocking step of a test.
const wait = 10 * time.Second

func ctxWait(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

func newServer(t *testing.T, opts *mock.Options) *mock.Server {
	s := mock.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// client speaks the protocol by hand over WebSocket, so that tests see
// every frame the mock sends.
type client struct {
	t      *testing.T
	conn   transport.Conn
	cd     codec.Codec
	frames []codec.Frame
	hello  codec.Frame
}

func dial(t *testing.T, url string) (*client, error) {
	t.Helper()
	return dialWith(ctxWait(t), t, websocket.Transport{}, url)
}

func dialWith(ctx context.Context, t *testing.T, tr transport.Transport, url string) (*client, error) {
	t.Helper()
	conn, err := tr.Dial(ctx, url, transport.Config{Codec: "json"})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &client{t: t, conn: conn, cd: codec.JSON{}}, nil
}

// connect dials and opens (or resumes) a session.
func connect(t *testing.T, url string, resume *codec.Frame, a uint64) *client {
	t.Helper()
	return connectWith(t, websocket.Transport{}, url, resume, a)
}

func connectWith(t *testing.T, tr transport.Transport, url string, resume *codec.Frame, a uint64) *client {
	t.Helper()
	ctx := ctxWait(t)
	c, err := dialWith(ctx, t, tr, url)
	// net/http may fail a request with another request's cancellation
	// when they meet over a dial in its pool (golang/go#66442's family):
	// a dial that just followed a dropped connection saw it once in 40
	// runs under qemu. The client retries such an attempt with backoff;
	// this helper, which dials once, retries it twice.
	for try := 0; try < 2 && errors.Is(err, context.Canceled) && ctx.Err() == nil; try++ {
		c, err = dialWith(ctx, t, tr, url)
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	f := codec.Frame{Type: codec.TypeConnect, Version: 1, Ack: a}
	if resume != nil {
		f.Session, f.Token = resume.Session, resume.Token
	}
	c.send(f)
	c.hello = c.expect(codec.TypeHello)
	return c
}

func (c *client) send(frames ...codec.Frame) {
	c.t.Helper()
	msg, err := c.cd.Encode(nil, frames...)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.conn.Send(ctxWait(c.t), msg); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// recv returns the next raw message.
func (c *client) recv() ([]byte, error) {
	c.t.Helper()
	return c.conn.Recv(ctxWait(c.t))
}

// recvMsg returns the frames of the next message.
func (c *client) recvMsg() []codec.Frame {
	c.t.Helper()
	msg, err := c.recv()
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	frames, err := c.cd.Decode(nil, msg)
	if err != nil {
		c.t.Fatalf("decode %q: %v", msg, err)
	}
	return frames
}

// expect returns the next frame that is not a ping; it must be of type typ.
func (c *client) expect(typ codec.Type) codec.Frame {
	c.t.Helper()
	for {
		for len(c.frames) == 0 {
			c.frames = c.recvMsg()
		}
		f := c.frames[0]
		c.frames = c.frames[1:]
		if f.Type == codec.TypePing {
			continue
		}
		if f.Type != typ {
			c.t.Fatalf("got %+v, want %s", f, typ)
		}
		return f
	}
}

// expectEnd reads until the connection ends, allowing only pings.
func (c *client) expectEnd() {
	c.t.Helper()
	for {
		msg, err := c.recv()
		if err != nil {
			return
		}
		frames, _ := c.cd.Decode(nil, msg)
		for _, f := range frames {
			if f.Type != codec.TypePing {
				c.t.Fatalf("got %+v, want the end of the connection", f)
			}
		}
	}
}

func pub(seq uint64, ch, data string) codec.Frame {
	return codec.Frame{Type: codec.TypePublish, Seq: seq, Channel: ch, Data: []byte(data)}
}

func sub(seq uint64, ch string) codec.Frame {
	return codec.Frame{Type: codec.TypeSubscribe, Seq: seq, Channel: ch}
}
