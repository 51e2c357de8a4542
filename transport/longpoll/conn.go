package longpoll

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimekit/realtime/internal/batch"
	"github.com/realtimekit/realtime/internal/httpconn"
)

// serverConn is the server side of a long-polling connection.
type serverConn struct {
	h      *handler
	id     string
	inbox  *httpconn.Inbox
	cancel context.CancelFunc // Accept's request context
	closed atomic.Bool

	mu       sync.Mutex
	err      error         // why the connection ended for Send and Recv
	done     chan struct{} // closed when err is set
	changed  chan struct{} // closed and replaced when queue, err or poller change
	queue    [][]byte      // messages waiting for a poll
	queued   int           // their bytes
	last     uint64        // the number of the last batch answered
	lastBody []byte        // its body, until the client acknowledges it
	polls    uint64        // polls received, numbering them
	poller   uint64        // the number of the poll being held, 0 if none
	active   int           // requests in progress
	seen     time.Time     // when the last request ended
	idle     *time.Timer
	gone     bool // removed from the handler: every request gets 404
}

// begin counts a request in, reporting false if the connection is gone.
func (c *serverConn) begin() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return false
	}
	c.active++
	return true
}

func (c *serverConn) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active--
	c.seen = time.Now()
	if c.active == 0 && !c.gone {
		c.idle.Reset(2 * c.h.pollTimeout)
	}
}

// expire ends a connection that has had no request for 2 × PollTimeout:
// the client is gone without a DELETE. It checks the time itself, since
// the timer may fire just as a request comes.
func (c *serverConn) expire() {
	c.mu.Lock()
	if c.gone || c.active > 0 {
		c.mu.Unlock()
		return
	}
	if left := 2*c.h.pollTimeout - time.Since(c.seen); left > 0 {
		c.idle.Reset(left)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.fail(errIdle)
	c.remove()
}

// remove forgets the connection: later requests get 404.
func (c *serverConn) remove() {
	c.mu.Lock()
	c.gone = true
	c.idle.Stop()
	c.mu.Unlock()
	c.h.mu.Lock()
	delete(c.h.conns, c.id)
	c.h.mu.Unlock()
}

// drained reports, under mu, whether an ended connection has nothing left
// for the client, so it can be forgotten.
func (c *serverConn) drained() bool {
	return c.err != nil && len(c.queue) == 0 && c.lastBody == nil
}

func (c *serverConn) broadcast() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// fail ends the connection for Send and Recv unless it has ended already.
func (c *serverConn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.done)
	c.broadcast()
	c.mu.Unlock()
	c.cancel()
}

func (c *serverConn) error() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Send queues msg for the next poll, waiting while the queue is full.
func (c *serverConn) Send(ctx context.Context, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	for {
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return err
		}
		if len(c.queue) == 0 || len(c.queue) < maxQueue && c.queued+len(msg) <= maxQueueBytes {
			c.queue = append(c.queue, append([]byte(nil), msg...))
			c.queued += len(msg)
			c.broadcast()
			c.mu.Unlock()
			return nil
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
	}
}

// Recv returns the next message POSTed by the client.
func (c *serverConn) Recv(ctx context.Context) ([]byte, error) {
	return httpconn.Receive(ctx, c.inbox.C(), c.done, c.error)
}

// Close ends the connection. What was sent before still goes to the
// client's next polls; the connection is forgotten once they have it.
func (c *serverConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("longpoll: close: %w", net.ErrClosed)
	}
	c.fail(fmt.Errorf("longpoll: %w", net.ErrClosed))
	c.mu.Lock()
	drained := c.drained() && c.poller == 0
	c.mu.Unlock()
	if drained {
		c.remove()
	}
	return nil
}

// poll answers a GET: the batch after the one acknowledged, once there is
// something to send or PollTimeout has passed; the last batch again if its
// answer was lost; 204 if a newer poll replaces this one.
func (c *serverConn) poll(w http.ResponseWriter, r *http.Request) {
	ack, err := strconv.ParseUint(r.URL.Query().Get("ack"), 10, 64)
	if err != nil {
		http.Error(w, "bad ack", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	switch {
	case ack+1 == c.last && c.lastBody != nil:
		n, body := c.last, c.lastBody
		c.mu.Unlock()
		writeBatch(w, n, body)
		return
	case ack != c.last:
		n := c.last
		c.mu.Unlock()
		http.Error(w, fmt.Sprintf("ack %d does not follow batch %d", ack, n), http.StatusBadRequest)
		return
	}
	c.lastBody = nil
	c.polls++
	mine := c.polls
	c.poller = mine // a poll held before sees this and answers 204
	c.broadcast()
	timer := time.NewTimer(c.h.pollTimeout)
	defer timer.Stop()
	timedOut := false
	for len(c.queue) == 0 && !timedOut {
		if c.drained() {
			c.poller = 0
			c.mu.Unlock()
			c.remove()
			http.Error(w, "connection closed", http.StatusNotFound)
			return
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			timedOut = true
		case <-r.Context().Done():
		}
		c.mu.Lock()
		if c.poller != mine {
			c.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Context().Err() != nil {
			c.poller = 0
			c.mu.Unlock()
			return
		}
	}
	body := c.take()
	c.last++
	n := c.last
	c.lastBody = body
	c.poller = 0
	c.broadcast()
	c.mu.Unlock()
	writeBatch(w, n, body)
}

// take removes from the queue, under mu, the messages of one answer and
// returns them as a batch body.
func (c *serverConn) take() []byte {
	var body []byte
	i := 0
	for ; i < len(c.queue); i++ {
		m := c.queue[i]
		if i > 0 && len(body)+batch.Size(len(m)) > maxAnswer {
			break
		}
		body = batch.Append(body, m)
		c.queued -= len(m)
		c.queue[i] = nil
	}
	c.queue = c.queue[i:]
	if len(c.queue) == 0 {
		c.queue = nil // let the backing array go
	}
	return body
}

func writeBatch(w http.ResponseWriter, n uint64, body []byte) {
	h := w.Header()
	h.Set("Content-Type", batch.ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set(BatchHeader, strconv.FormatUint(n, 10))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
