package sse

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimekit/realtime/internal/httpconn"
	"github.com/realtimekit/realtime/transport"
)

// NewHandler returns a handler that serves the SSE transport on any path:
// a GET opens an event stream, a POST with ?id= carries messages up, a
// DELETE with ?id= ends the connection. A POST or DELETE whose id names a
// connection of another node (cfg.Node, cfg.Elsewhere) goes to
// cfg.Elsewhere.
//
// For each stream it runs cfg.Check, writes the open event, and calls
// cfg.Accept on a goroutine of its own, closing the connection when Accept
// returns. The GET lasts as long as the connection: it ends when the
// connection is closed, by either end, even if Accept has not returned
// yet, since the client learns of a close only from the end of its
// stream. The request given to Accept carries a context that ends with
// the connection. Events carry no id (PROTOCOL.md 7.2). The connection's
// Send refuses a text message containing CR, which no event can carry (a
// JSON encoder writes none outside strings, where it is escaped). Received
// messages may be at most cfg.ReadLimit bytes (zero means
// transport.DefaultReadLimit), a larger one fails the connection and its
// POST gets 413. cfg.PollTimeout is ignored.
//
// The handler does not send X-Accel-Buffering: a proxy that buffers the
// stream must show up as one, so that clients fall back to long polling.
func NewHandler(cfg transport.ServerConfig) http.Handler {
	return &handler{cfg: cfg, limit: transport.Config{ReadLimit: cfg.ReadLimit}.Limit(), conns: map[string]*serverConn{}}
}

type handler struct {
	cfg   transport.ServerConfig
	limit int64

	mu    sync.Mutex
	conns map[string]*serverConn
}

var (
	errPeerClosed = fmt.Errorf("sse: the client closed the connection: %w", io.EOF)
	errPeerGone   = fmt.Errorf("sse: the client went away: %w", io.ErrUnexpectedEOF)
	errCR         = errors.New("sse: a text message containing CR cannot be sent as event data")
)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	switch {
	case r.Method == http.MethodGet:
		h.stream(w, r)
	case (r.Method == http.MethodPost || r.Method == http.MethodDelete) && id == "":
		http.Error(w, "missing id", http.StatusBadRequest)
	case r.Method == http.MethodPost || r.Method == http.MethodDelete:
		h.mu.Lock()
		c := h.conns[id]
		h.mu.Unlock()
		switch {
		case c == nil && h.cfg.ServeElsewhere(w, r, id):
		case c == nil:
			http.Error(w, "unknown connection", http.StatusNotFound)
		case r.Method == http.MethodDelete:
			c.fail(errPeerClosed)
			w.WriteHeader(http.StatusNoContent)
		default:
			if err := c.inbox.ServePost(w, r, h.limit); err != nil {
				c.fail(err)
			}
		}
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (h *handler) stream(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Check != nil {
		if code := h.cfg.Check(r); code != 0 {
			http.Error(w, http.StatusText(code), code)
			return
		}
	}
	// Accept's request lives as long as the connection, not the GET: the
	// GET may end first (see NewHandler).
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	c := &serverConn{
		id:     h.cfg.NewID(),
		w:      w,
		rc:     http.NewResponseController(w),
		binary: transport.IsBinary(r),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	c.inbox = httpconn.NewInbox(c.done)
	h.mu.Lock()
	h.conns[c.id] = c
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, c.id)
		h.mu.Unlock()
	}()

	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if err := c.writeRaw(context.Background(), []byte("event: open\ndata: "+c.id+"\n\n")); err != nil {
		c.end()
		return
	}
	stop := context.AfterFunc(r.Context(), func() { c.fail(errPeerGone) })
	defer stop()
	go func() {
		h.cfg.Accept(r.WithContext(ctx), c)
		_ = c.Close()
	}()
	<-c.done
	c.end()
}

// serverConn is the server side of an SSE connection.
type serverConn struct {
	id     string
	w      http.ResponseWriter
	rc     *http.ResponseController
	binary bool
	inbox  *httpconn.Inbox
	cancel context.CancelFunc

	wmu      sync.Mutex // serializes writes to w
	buf      []byte     // an event being written, kept for the next
	finished bool       // the handler is returning: w is off limits

	mu      sync.Mutex
	writing bool // a write is in progress (so a deadline can unblock it)
	err     error
	done    chan struct{}
	closed  atomic.Bool
}

// Send writes msg as one event and flushes it.
func (c *serverConn) Send(ctx context.Context, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !c.binary && bytes.IndexByte(msg, '\r') >= 0 {
		return errCR
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.buf = appendEvent(c.buf[:0], msg, c.binary)
	err := c.write(ctx, c.buf)
	if cap(c.buf) > 64<<10 {
		c.buf = nil // a large message should not pin its buffer
	}
	return err
}

func (c *serverConn) writeRaw(ctx context.Context, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(ctx, b)
}

// write writes b and flushes, under wmu. A ctx that ends, or a Close,
// during the write sets a write deadline in the past: the only way to
// unblock a write to a client that does not read.
func (c *serverConn) write(ctx context.Context, b []byte) error {
	c.mu.Lock()
	if c.err != nil || c.finished {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.writing = true
	c.mu.Unlock()
	stop := context.AfterFunc(ctx, c.unblock)
	_, err := c.w.Write(b)
	if err == nil {
		err = c.rc.Flush()
	}
	cancelled := !stop()
	c.mu.Lock()
	c.writing = false
	c.mu.Unlock()
	if cancelled {
		c.fail(fmt.Errorf("sse: write: %w", ctx.Err()))
		return ctx.Err()
	}
	if err != nil {
		c.fail(fmt.Errorf("sse: write: %w", err))
		return c.error() // a Close that unblocked the write comes first
	}
	return nil
}

func (c *serverConn) unblock() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writing {
		_ = c.rc.SetWriteDeadline(time.Now())
	}
}

// Recv returns the next message POSTed by the client.
func (c *serverConn) Recv(ctx context.Context) ([]byte, error) {
	return httpconn.Receive(ctx, c.inbox.C(), c.done, c.error)
}

// Close ends the connection and its stream.
func (c *serverConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("sse: close: %w", net.ErrClosed)
	}
	c.fail(fmt.Errorf("sse: %w", net.ErrClosed))
	return nil
}

// fail ends the connection with err unless it has ended already.
func (c *serverConn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.done)
	if c.writing {
		_ = c.rc.SetWriteDeadline(time.Now())
	}
	c.mu.Unlock()
	c.cancel()
}

// end runs as the handler returns: it waits for a write in progress (which
// the end of the connection has unblocked), and after it nothing touches w.
func (c *serverConn) end() {
	c.fail(fmt.Errorf("sse: %w", net.ErrClosed))
	c.wmu.Lock()
	c.mu.Lock()
	c.finished = true
	c.mu.Unlock()
	c.wmu.Unlock()
}

func (c *serverConn) error() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// appendEvent appends msg as one event. Text is split into data lines at
// LF (the parser joins them back with LF); binary is one line of base64.
func appendEvent(b, msg []byte, binary bool) []byte {
	if binary {
		b = append(b, "data: "...)
		b = base64.StdEncoding.AppendEncode(b, msg)
		b = append(b, '\n')
		return append(b, '\n')
	}
	for {
		b = append(b, "data: "...)
		i := bytes.IndexByte(msg, '\n')
		if i < 0 {
			b = append(b, msg...)
			b = append(b, '\n')
			return append(b, '\n')
		}
		b = append(b, msg[:i+1]...)
		msg = msg[i+1:]
	}
}
