// Package httpconn holds what the HTTP transports (SSE and long polling)
// share: a client connection whose messages come down through a goroutine
// of the transport and go up in batched POSTs ([Conn], [Sender]), the
// server's side of those POSTs ([Inbox]), and URL building.
package httpconn

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimekit/realtime/internal/redact"
	"github.com/realtimekit/realtime/transport"
)

// Close's time limits: for POSTing the messages still queued, then for
// telling the server with a DELETE. The server forgets an abandoned
// connection anyway, so Close must not hang on an unreachable one.
const (
	FlushTimeout  = time.Second
	DeleteTimeout = time.Second
)

// Config configures a client Conn.
type Config struct {
	// Name is the transport's name, prefixing error messages.
	Name string
	// Client makes every request; nil means http.DefaultClient.
	Client *http.Client
	// Header is added to every request; nil means none.
	Header http.Header
	// URL is the connection's URL, with its id: POSTs and the DELETE go
	// there.
	URL string
	// Stop, if set, is called once when the connection ends, to stop the
	// down direction (the transport's reader).
	Stop func()
	// Redact removes the connection's secrets (its id, the base URL's
	// query, header values) from every error the Conn returns. Nil still
	// strips URL queries.
	Redact *redact.Redactor
}

// Conn is the client side of an HTTP transport connection, a
// transport.Conn. The transport feeds Recv from a goroutine it starts with
// Go; Send queues messages for a Sender.
//
// Send's nil error means the message was queued: a POST that fails ends
// the connection, and the next Send or Recv reports it. Send blocks while
// the queue is full (DefaultMaxCount messages or DefaultMaxBytes).
type Conn struct {
	cfg    Config
	base   context.Context // the dial's values, for the DELETE
	ctx    context.Context // ends with the connection
	cancel context.CancelFunc
	sender *Sender
	msgs   chan []byte // unbuffered: the reader holds at most one message
	wg     sync.WaitGroup

	mu     sync.Mutex
	err    error         // why the connection ended
	done   chan struct{} // closed when err is set
	closed atomic.Bool
}

var _ transport.Conn = (*Conn)(nil)

// NewConn returns a Conn and starts its Sender. The Conn keeps ctx's values
// but not its cancellation.
func NewConn(ctx context.Context, cfg Config) *Conn {
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	cfg.Header = cfg.Header.Clone()
	c := &Conn{
		cfg:  cfg,
		base: context.WithoutCancel(ctx),
		msgs: make(chan []byte),
		done: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(c.base)
	c.sender = NewSender(ctx, SenderConfig{
		Name: cfg.Name, Client: cfg.Client, URL: cfg.URL, Header: cfg.Header,
		Redact:  cfg.Redact,
		OnError: func(err error) { c.fail(err, true) },
	})
	return c
}

// Context returns a context that ends with the connection, for the
// requests of the down direction.
func (c *Conn) Context() context.Context { return c.ctx }

// Go runs f, the transport's reader, on a goroutine that Close waits for.
func (c *Conn) Go(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// Deliver hands msg to Recv, waiting for it. It reports false when the
// connection ended first.
func (c *Conn) Deliver(msg []byte) bool {
	select {
	case c.msgs <- msg:
		return true
	case <-c.done:
		return false
	}
}

// Fail ends the connection with err unless it has ended already; Send and
// Recv return err from now on.
func (c *Conn) Fail(err error) { c.fail(err, true) }

// fail ends the connection. Close keeps the Sender running so that it can
// flush; every other end drops what is queued.
func (c *Conn) fail(err error, abortSender bool) {
	err = c.cfg.Redact.Err(err)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.done)
	c.mu.Unlock()
	c.cancel()
	if c.cfg.Stop != nil {
		c.cfg.Stop()
	}
	if abortSender {
		c.sender.Abort(err)
	}
}

func (c *Conn) error() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Send queues msg for the next POST.
func (c *Conn) Send(ctx context.Context, msg []byte) error {
	select {
	case <-c.done:
		return c.error()
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.sender.Send(ctx, msg); err != nil {
		select {
		case <-c.done:
			return c.error() // the cause, not the Sender's view of it
		default:
			return err
		}
	}
	return nil
}

// Recv returns the next message. A ctx that ends leaves the connection
// usable.
func (c *Conn) Recv(ctx context.Context) ([]byte, error) {
	return Receive(ctx, c.msgs, c.done, c.error)
}

// Close ends the connection, POSTs what is queued (within FlushTimeout),
// waits for the reader, and DELETEs the connection on the server (within
// DeleteTimeout). Later calls return an error wrapping net.ErrClosed.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("%s: close: %w", c.cfg.Name, net.ErrClosed)
	}
	c.fail(fmt.Errorf("%s: %w", c.cfg.Name, net.ErrClosed), false)
	_ = c.sender.Close(FlushTimeout)
	c.wg.Wait()
	ctx, cancel := context.WithTimeout(c.base, DeleteTimeout)
	defer cancel()
	if req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.cfg.URL, nil); err == nil {
		SetHeader(req, c.cfg.Header)
		if resp, err := c.cfg.Client.Do(req); err == nil {
			DrainClose(resp.Body)
		}
	}
	return nil
}

// Endpoint is baseURL with path appended and q added to its query. ws and
// wss become http and https, since one base URL serves every transport.
func Endpoint(name, baseURL, path string, q url.Values) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("%s: base URL: %w", name, redact.New(baseURL, nil).Err(err))
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("%s: base URL %s: the scheme must be http, https, ws or wss", name, redact.URL(baseURL))
	}
	u = u.JoinPath(path)
	query := u.Query()
	for k, v := range q {
		query[k] = v
	}
	u.RawQuery = query.Encode()
	u.Fragment = ""
	return u.String(), nil
}

// SetHeader adds h to req's header.
func SetHeader(req *http.Request, h http.Header) {
	for k, v := range h {
		req.Header[k] = v
	}
}
