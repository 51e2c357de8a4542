package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	ws "github.com/coder/websocket"

	"github.com/realtimekit/realtime/transport"
)

// closeTimeout bounds how long Close waits for the peer to answer the close
// handshake before it drops the connection.
const closeTimeout = time.Second

// keepBuf is the largest receive buffer kept for reuse; a larger message is
// handed to the caller in the buffer it was read into.
const keepBuf = 64 << 10

// recvBufs holds receive buffers shared by all conns, so that an idle
// connection holds none.
var recvBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

var (
	errClosed = fmt.Errorf("websocket: connection closed: %w", net.ErrClosed)
	// errCtxEnded is what follows a call whose ctx ended: coder/websocket
	// closes the connection when a read or write is cancelled.
	errCtxEnded = fmt.Errorf("websocket: connection closed by an earlier cancelled call: %w", net.ErrClosed)
)

// conn is the transport.Conn of both ends.
//
// A Send or Recv whose ctx ends mid-call closes the underlying connection,
// because coder/websocket cannot abandon a partly read or written frame and
// stay in sync. Callers therefore pass a ctx that lives as long as they want
// the connection, not a per-message timeout.
type conn struct {
	ws    *ws.Conn
	raw   io.Closer // the stream under ws, nil if unknown
	typ   ws.MessageType
	limit int64

	closed    atomic.Bool
	closeOnce sync.Once
	// broken is the first error that ended the connection on the receiving
	// side, returned by later calls: the reader sees the real cause (a close
	// status, a message over the limit) where a writer sees only "closed".
	broken atomic.Pointer[error]
}

var _ transport.Conn = (*conn)(nil)

func newConn(c *ws.Conn, raw io.Closer, binary bool, limit int64) *conn {
	// coder's default limit is 32 KiB; ours is the configured one, exactly:
	// a message of limit bytes passes and one of limit+1 fails.
	c.SetReadLimit(limit)
	typ := ws.MessageText
	if binary {
		typ = ws.MessageBinary
	}
	return &conn{ws: c, raw: raw, typ: typ, limit: limit}
}

// Send writes msg as one message. A ctx that ends during the write closes
// the connection (see conn).
func (c *conn) Send(ctx context.Context, msg []byte) error {
	if err := c.usable(ctx); err != nil {
		return err
	}
	if err := c.ws.Write(ctx, c.typ, msg); err != nil {
		return c.failed(ctx, err, false)
	}
	return nil
}

// Recv reads the next message. A ctx that ends while Recv waits closes the
// connection (see conn).
func (c *conn) Recv(ctx context.Context) ([]byte, error) {
	if err := c.usable(ctx); err != nil {
		return nil, err
	}
	_, r, err := c.ws.Reader(ctx)
	if err != nil {
		return nil, c.failed(ctx, err, true)
	}
	msg, err := readAll(r)
	if err != nil {
		return nil, c.failed(ctx, err, true)
	}
	return msg, nil
}

// readAll reads one message into a pooled buffer and returns an exact-size
// copy, so a message costs one allocation of its own size.
func readAll(r io.Reader) ([]byte, error) {
	bp := recvBufs.Get().(*[]byte)
	defer recvBufs.Put(bp)
	buf := (*bp)[:0]
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(512, cap(buf)))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if cap(buf) > keepBuf {
		return buf, nil // grown past any pooled buffer: the caller can own it
	}
	*bp = buf[:0]
	return append(make([]byte, 0, len(buf)), buf...), nil
}

// usable returns the error a call must fail with before touching the wire.
func (c *conn) usable(ctx context.Context) error {
	if c.closed.Load() {
		return errClosed
	}
	if p := c.broken.Load(); p != nil {
		return *p
	}
	// Checked here because coder/websocket may still write a message whose
	// ctx has already ended.
	return ctx.Err()
}

// failed turns an error of coder/websocket into the one the caller gets.
func (c *conn) failed(ctx context.Context, err error, reading bool) error {
	if c.closed.Load() {
		return errClosed
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		c.broken.CompareAndSwap(nil, &errCtxEnded)
		return ctxErr
	}
	if !reading {
		if p := c.broken.Load(); p != nil {
			return *p
		}
		return fmt.Errorf("websocket: send: %w", err)
	}
	err = c.mapRecvErr(err)
	c.broken.CompareAndSwap(nil, &err)
	return *c.broken.Load()
}

func (c *conn) mapRecvErr(err error) error {
	if errors.Is(err, ws.ErrMessageTooBig) {
		return &transport.TooLargeError{Limit: c.limit}
	}
	switch ws.CloseStatus(err) {
	case -1:
		return fmt.Errorf("websocket: recv: %w", err)
	case ws.StatusNormalClosure:
		// The protocol's normal end: io.EOF, as for any stream that ends cleanly.
		return fmt.Errorf("websocket: peer closed the connection: %w (%w)", io.EOF, err)
	default:
		return fmt.Errorf("websocket: peer closed the connection: %w", err)
	}
}

// Close sends a normal close (status 1000) and waits up to one second for the
// peer's answer, then drops the connection. It unblocks a pending Send or
// Recv, which return an error wrapping net.ErrClosed, as do later calls.
// Close always returns nil: whatever broke the connection is reported by
// Send and Recv. Later calls wait for the first to finish.
// Abort implements transport.Aborter: the connection ends without the
// close handshake.
func (c *conn) Abort() {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		_ = c.ws.CloseNow()
	})
}

func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = c.ws.Close(ws.StatusNormalClosure, "")
		}()
		if c.raw == nil {
			<-done // coder bounds its own handshake, at about 10 s
			return
		}
		t := time.NewTimer(closeTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			_ = c.raw.Close()
			<-done
		}
	})
	return nil
}
