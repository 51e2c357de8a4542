package realtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/connstate"
	"github.com/realtimekit/realtime/internal/negotiate"
	"github.com/realtimekit/realtime/internal/protocol"
	"github.com/realtimekit/realtime/internal/session"
	"github.com/realtimekit/realtime/internal/watchdog"
	"github.com/realtimekit/realtime/transport"
)

// Acknowledgement batching (docs/PROTOCOL.md §5): at the latest ackDelay
// after a frame was processed, or at once when ackEvery are unacknowledged.
const (
	ackDelay = 20 * time.Millisecond
	ackEvery = 64
)

// closeWait bounds what Close waits for the link: the goodbye frame, or a
// send the server is not taking.
const closeWait = CloseTimeout

// CloseTimeout bounds what Client.Close waits for the live connection to
// take its goodbye, or a send under way: 1 s. An HTTP transport (SSE, long
// polling) then closes its connection on its own bounds, at most 1 s to
// flush its last POST and 1 s for its DELETE.
const CloseTimeout = time.Second

// link is one live, handshaken transport connection.
type link struct {
	conn      transport.Conn
	transport string
	hb        time.Duration
	pending   []codec.Frame         // frames that arrived with hello
	ctx       context.Context       // ends when the link is done; not the client's, so Close can still say goodbye
	upgrade   chan probed           // the probe's result, once it sent connect
	probing   atomic.Bool           // a probe sent connect and waits for hello
	readErr   chan error            // the reader's final error, buffered
	dog       watchdog.Dog          // ends the link when the server goes silent or stops taking sends
	dead      atomic.Pointer[error] // why dog ended it
	progress  atomic.Bool           // the server acknowledged something sent on it
	ackAt     atomic.Int64          // when it last did, by now()
	closeOnce sync.Once             // closeLink's
}

var epoch = time.Now()

// now is monotonic time, which stops while a device sleeps.
func now() int64 { return int64(time.Since(epoch)) }

// wallNow is wall-clock time, which keeps going while a device sleeps.
// Tests skew it to play a suspend.
func wallNow() time.Time { return time.Now().Round(0).Add(time.Duration(wallSkew.Load())) }

var wallSkew atomic.Int64

// errClockJump ends a link when the wall clock moved ahead of the monotonic
// clock by more than a heartbeat interval: the device was suspended, and
// the connection is almost surely dead even if no error says so yet.
var errClockJump = errors.New("realtime: wall clock jumped ahead (device suspended?): reconnecting")

// dial negotiates a transport, opening the session over it.
func (c *Client) dial() (*link, error) {
	cfg, err := c.config(c.ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.sess.NewConnection() // the previous link's reader and writer are done
	connect := c.sess.ConnectFrame()
	c.mu.Unlock()
	nl, attempts, err := c.neg.Dial(c.ctx, c.url, cfg, c.codec, connect)
	c.mu.Lock()
	c.attempts = attempts
	c.mu.Unlock()
	for _, a := range attempts {
		if a.Err != nil {
			c.opts.Logger.Debug("realtime: transport attempt failed", "transport", a.Transport, "took", a.Took, "err", a.Err)
		}
	}
	if err != nil {
		return nil, err
	}
	return c.newLink(nl)
}

// config is what every dial needs, with a fresh token when the application
// provides them.
func (c *Client) config(ctx context.Context) (transport.Config, error) {
	cfg := transport.Config{
		HTTPClient: c.opts.HTTPClient,
		Header:     c.opts.Header,
		Codec:      c.codec.Name(),
		Binary:     c.codec.Binary(),
		ReadLimit:  int64(c.opts.MaxMessageSize),
	}
	if c.opts.Token != nil {
		tok, err := c.opts.Token(ctx)
		if err != nil {
			return cfg, fmt.Errorf("realtime: token provider: %w", err)
		}
		cfg.Header = cfg.Header.Clone()
		if cfg.Header == nil {
			cfg.Header = make(http.Header)
		}
		cfg.Header.Set("Authorization", "Bearer "+tok)
	}
	return cfg, nil
}

// newLink checks the server's answer to connect: a valid hello makes a
// link; an error frame or a hello that breaks the protocol closes the
// connection and is returned.
func (c *Client) newLink(nl negotiate.Link) (*link, error) {
	f := nl.Frames[0]
	var err error
	if f.Type == codec.TypeError {
		err = &ServerError{Code: f.Code, Reason: f.Reason}
	} else if herr := protocol.CheckHello(f); herr != nil {
		err = &ProtocolError{Reason: herr.Error()}
	}
	if err != nil {
		nl.Conn.Close()
		return nil, err
	}
	return &link{
		conn: nl.Conn, transport: nl.Transport, pending: nl.Frames,
		hb: time.Duration(f.Heartbeat) * time.Millisecond, readErr: make(chan error, 1),
	}, nil
}

// serve runs links until one breaks or the client closes; an upgrade to a
// better transport replaces the link and carries on. It reports whether the
// session's links worked: stayed up healthyAfter, or had something sent on
// them acknowledged.
func (c *Client) serve(l *link) (worked bool, err error) {
	reason := "connected"
	start := time.Now()
	for {
		next, err := c.serveLink(l, reason)
		worked = worked || l.progress.Load() || time.Since(start) >= healthyAfter(l.hb)
		if next == nil {
			return worked, err
		}
		c.opts.Logger.Info("realtime: transport upgraded", "from", l.transport, "to", next.transport)
		reason = "transport upgraded from " + l.transport
		l = next
		// The old link's reader and writer are done: the session's
		// per-connection state starts over for the new one.
		c.mu.Lock()
		c.sess.NewConnection()
		c.mu.Unlock()
	}
}

// serveLink runs one link. It returns the next link when the session moved
// onto a better transport, or the error that ended the link.
func (c *Client) serveLink(l *link, reason string) (*link, error) {
	defer c.closeLink(l)
	hello := l.pending[0]
	c.mu.Lock()
	continued, err := c.sess.Hello(hello, c.opts.ResendOnSessionLoss)
	if err == nil && !continued {
		c.resubscribeLocked()
	}
	epoch := c.sess.Epoch
	c.transport = l.transport
	c.count.connects++
	if !continued {
		c.count.lost++
	}
	if reason != "connected" {
		c.count.upgrades++
	}
	c.mu.Unlock()
	if err != nil {
		return nil, publicErr(err)
	}
	if !continued {
		c.disp.dropStale(epoch)
	}
	ch := connstate.Change{To: StateConnected, Reason: reason, Transport: l.transport}
	switch {
	case !continued:
		ch.Reason, ch.ContinuityLost = "session not resumed", true
	case hello.Resumed && reason == "connected":
		ch.Reason = "session resumed"
	}
	c.setState(ch)
	c.opts.Logger.Info("realtime: connected", "transport", l.transport, "session", hello.Session, "resumed", hello.Resumed)

	err = c.process(l, l.pending[1:])
	l.pending = nil // and the message they were decoded from, for the link's life
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.ctx = ctx
	l.upgrade = make(chan probed)
	// Reads and sends take no ctx of their own (one costs an allocation and
	// a registration per call): the watchdog bounds them, closing the conn.
	dead := l.hb + c.opts.grace(l.hb)
	l.dog.Start(dead, dead, func(cause watchdog.Cause) {
		err := fmt.Errorf("%w: a send was not taken within %v: the server is not reading", ErrLinkDead, cause.Limit)
		if cause.Silent {
			err = fmt.Errorf("%w: no frame from the server for %v (heartbeat %v)", ErrLinkDead, cause.For.Round(time.Millisecond), l.hb)
		}
		l.dead.Store(&err)
		c.abortLink(l)
	})
	c.mu.Lock()
	c.dog = &l.dog // Close shortens a send under way
	c.mu.Unlock()
	c.wg.Add(1)
	go c.read(l)
	c.startProbe(l)
	next, err := c.write(l)
	l.dog.Stop()   // a Close that still finds it gets a no-op Shorten
	c.closeLink(l) // unblocks the reader
	cancel()       // and the probe
	rerr := <-l.readErr
	c.mu.Lock()
	c.transport, c.dog = "", nil
	c.mu.Unlock()
	if next != nil {
		return next, nil
	}
	if derr := l.dead.Load(); derr != nil {
		err = *derr // what the reader and writer saw was the watchdog closing the conn
	} else if err == nil {
		err = rerr
	}
	return nil, err
}

// closeLink closes l's conn on a goroutine of the client's own: an HTTP
// transport's Close flushes what is queued and DELETEs the connection,
// which takes up to 2 s on a dead path, and a reconnect must not wait for
// it. Closing ends l's reader and any send at once.
func (c *Client) closeLink(l *link) {
	l.closeOnce.Do(func() {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			l.conn.Close()
		}()
	})
}

// abortLink ends l's conn at once, when the watchdog found it dead: no
// goodbye, which could only time out.
func (c *Client) abortLink(l *link) {
	if a, ok := l.conn.(transport.Aborter); ok {
		a.Abort()
	}
	c.closeLink(l)
}

// resubscribeLocked renews every subscription after a lost session, ahead
// of anything else queued. c.mu is held.
func (c *Client) resubscribeLocked() {
	ops := make([]*session.Op, 0, len(c.subs))
	for ch := range c.subs {
		op := session.NewOp(codec.Frame{Type: codec.TypeSubscribe, Channel: ch})
		op.Internal = true
		ops = append(ops, op)
	}
	c.sess.Requeue(ops...)
}

// read is the link's reader goroutine.
func (c *Client) read(l *link) {
	defer c.wg.Done()
	var frames []codec.Frame
	for {
		msg, err := l.conn.Recv(context.Background()) // ends when serveLink closes the conn
		if err != nil {
			if errors.Is(err, transport.ErrTooLarge) {
				err = &ProtocolError{Reason: "message over the size limit", Err: err}
			}
			l.readErr <- err
			c.signal()
			return
		}
		l.dog.Received()
		frames, err = c.codec.Decode(frames[:0], msg)
		if err == nil {
			err = c.process(l, frames)
		} else {
			err = &ProtocolError{Reason: "undecodable message", Err: err}
		}
		if err != nil {
			l.readErr <- err
			c.closeLink(l)
			c.signal()
			return
		}
	}
}

// process applies the frames of one received message.
func (c *Client) process(l *link, frames []codec.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range frames {
		f := &frames[i]
		switch f.Type {
		case codec.TypeAck:
			n, _ := c.sess.Len()
			if err := c.sess.Ack(f.Ack); err != nil {
				return publicErr(err)
			}
			if m, _ := c.sess.Len(); m < n {
				l.progress.Store(true)
				l.ackAt.Store(now())
			}
			if c.sess.Pending() { // the ack opened the window for what waits
				c.signal()
			}
		case codec.TypeMessage, codec.TypeNack:
			fresh, err := c.sess.Inbound(f.Seq)
			if err != nil {
				return publicErr(err)
			}
			if !fresh {
				continue
			}
			if f.Type == codec.TypeNack {
				if err := c.sess.Nack(f.Ref, f.Code, f.Reason); err != nil {
					return publicErr(err)
				}
				if c.sess.Processed(c.sess.Epoch, f.Seq) >= ackEvery {
					c.signal()
				}
				continue
			}
			c.disp.deliver(c.sess.Epoch, Message{Channel: f.Channel, Data: f.Data, Seq: f.Seq})
		case codec.TypePing:
		case codec.TypeError:
			return &ServerError{Code: f.Code, Reason: f.Reason}
		case codec.TypeClose:
			return &ServerError{Code: f.Code, Reason: "closed by the server: " + f.Reason}
		default:
			return &ProtocolError{Reason: "unexpected " + f.Type.String() + " frame from the server"}
		}
	}
	return nil
}

// processed is called by the dispatcher after a message's handler returned.
func (c *Client) processed(epoch, seq uint64, delivered bool) {
	c.mu.Lock()
	if delivered {
		c.count.delivered++
	}
	n := c.sess.Processed(epoch, seq)
	c.mu.Unlock()
	if n == 1 || n >= ackEvery {
		c.signal()
	}
}

// write is the connection loop while a link is up: it sends what the
// session has to send, coalescing frames, acknowledgements and heartbeats
// into as few messages as it can.
func (c *Client) write(l *link) (*link, error) {
	beat := time.NewTimer(l.hb)
	defer beat.Stop()
	var ack *time.Timer // made when an ack first waits: many clients never receive
	var ackC <-chan time.Time
	defer func() {
		if ack != nil {
			ack.Stop()
		}
	}()
	budget := c.limit / 2
	var frames []codec.Frame
	var buf []byte
	mono, wall := now(), wallNow()
	// A server that takes frames and pings back but never acknowledges
	// would leave the client connected for ever with a full outbox.
	ackLimit := c.ackLimit(l.hb)
	var waitSince int64 // when frames sent on l began to wait for an ack
	for {
		sendPing, sendAck := false, false
		select {
		case <-c.ctx.Done():
			c.sendClose(l)
			return nil, c.ctx.Err()
		case err := <-l.readErr:
			l.readErr <- err // serve collects it
			// The server closes a link whose session a probe's connect
			// took over: the probe's hello is on its way.
			if next := c.awaitProbe(l); next != nil {
				return next, nil
			}
			return nil, nil
		case p := <-l.upgrade:
			if next := c.upgrade(l, p); next != nil {
				return next, nil
			}
			continue
		case <-c.wake:
		case <-ackC:
			ackC, sendAck = nil, true
		case <-beat.C:
			sendPing = true
		}
		if m, w := now(), wallNow(); w.Sub(wall)-time.Duration(m-mono) > l.hb {
			return nil, errClockJump
		} else {
			mono, wall = m, w
		}
		c.mu.Lock()
		waiting := c.sess.SentUnacked() > 0
		c.mu.Unlock()
		switch {
		case !waiting:
			waitSince = 0
		case waitSince == 0:
			waitSince = mono
		case mono-max(waitSince, l.ackAt.Load()) > int64(ackLimit):
			return nil, fmt.Errorf("%w: nothing sent was acknowledged for %v", ErrLinkDead, ackLimit)
		}
		c.mu.Lock()
		firstNew := c.sess.NextSeq()
		frames = c.sess.Fill(frames[:0], budget)
		// No ack while a probe's connect is out: it carries the resume point,
		// which the server refuses once an ack went past it.
		if a, due := c.sess.AckDue(); due && !l.probing.Load() {
			if sendAck || c.sess.Unacked() >= ackEvery || len(frames) > 0 {
				// First, so that a publish failed by send cannot hold it back.
				frames = slices.Insert(frames, 0, codec.Frame{Type: codec.TypeAck, Ack: a})
				c.sess.AckSent(a)
				if ackC != nil {
					ack.Stop()
					ackC = nil
				}
			} else if ackC == nil {
				if ack == nil {
					ack = time.NewTimer(ackDelay)
				} else {
					ack.Reset(ackDelay)
				}
				ackC = ack.C
			}
		}
		more := c.sess.Pending()
		c.mu.Unlock()
		if len(frames) == 0 && sendPing {
			frames = append(frames, codec.Frame{Type: codec.TypePing})
		}
		if len(frames) == 0 {
			if sendPing {
				beat.Reset(l.hb)
			}
			continue
		}
		var err error
		buf, _, err = c.send(l, buf, frames, firstNew)
		if err != nil {
			select {
			case rerr := <-l.readErr: // the reader saw the cause first
				l.readErr <- rerr
				return nil, nil
			default:
				return nil, err
			}
		}
		beat.Reset(l.hb)
		if more {
			c.signal()
		}
	}
}

// send encodes frames as one message within the size limit and sends it.
// A local encoding failure never ends the link: a batch the codec refuses
// is split in halves, sent one after the other; a publish that cannot be
// encoded even alone (a codec that encodes the same frame differently from
// when PublishAsync measured it) is failed with ErrMessageTooLarge or the
// codec's error, and what was numbered after it goes back to the queue
// (rewound reports that the caller must send nothing more of frames).
// Only frames numbered on this pass (Seq >= firstNew) can be failed so:
// anything else ends the link, as a send error does.
func (c *Client) send(l *link, buf []byte, frames []codec.Frame, firstNew uint64) (_ []byte, rewound bool, err error) {
	out, err := c.codec.Encode(buf[:0], frames...)
	if err == nil && len(out) > c.limit {
		err = &codec.SizeError{Size: len(out), Limit: c.limit}
	}
	if err == nil {
		l.dog.Sending()
		err = l.conn.Send(context.Background(), out) // bounded by l.dog
		l.dog.Sent()
		return out, false, err
	}
	if len(frames) > 1 {
		half := len(frames) / 2
		buf, rewound, err = c.send(l, buf, frames[:half], firstNew)
		if err != nil || rewound {
			return buf, rewound, err
		}
		return c.send(l, buf, frames[half:], firstNew)
	}
	f := frames[0]
	if f.Type != codec.TypePublish || f.Seq < firstNew {
		return buf, false, fmt.Errorf("realtime: cannot encode a %v frame: %w", f.Type, err)
	}
	cause := ErrMessageTooLarge
	if !errors.Is(err, codec.ErrTooLarge) {
		cause = fmt.Errorf("realtime: the codec cannot encode this publish: %w", err)
	}
	c.mu.Lock()
	ok := c.sess.Rewind(f.Seq, cause)
	c.mu.Unlock()
	if !ok {
		return buf, false, fmt.Errorf("realtime: cannot encode publish %d: %w", f.Seq, err)
	}
	c.opts.Logger.Warn("realtime: publish failed locally: the codec could not encode it", "err", err)
	c.signal() // what was given back waits to be sent
	return buf, true, nil
}

// sendClose tells the server the session ends on purpose, best effort,
// by CloseTimeout after Close was called. A goodbye the link did not take
// leaves nothing to close gracefully: the link is aborted.
func (c *Client) sendClose(l *link) {
	msg, err := c.codec.Encode(nil, codec.Frame{Type: codec.TypeClose, Code: 1000, Reason: "client closed"})
	if err != nil {
		return
	}
	deadline := time.Now().Add(closeWait)
	if at := c.closeAt.Load(); at != 0 {
		deadline = time.Unix(0, at).Add(closeWait)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if l.conn.Send(ctx, msg) != nil {
		c.abortLink(l)
	}
}

func (c *Client) setErr(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

func (c *Client) fail(err error) {
	if err == nil || c.ctx.Err() != nil {
		return
	}
	c.mu.Lock()
	c.lastErr, c.failed = err, err
	c.sess.FailAll(err)
	c.mu.Unlock()
	c.setState(connstate.Change{To: StateFailed, Reason: "permanent error", Err: err})
	c.opts.Logger.Error("realtime: failed", "err", err)
}

// setState records a change and queues it for Options.OnStateChange.
//
// The change is recorded and queued under evMu, as one step: a goroutine
// woken by the new state (Connect returning, then Close) must not find the
// dispatcher drained before the change that woke it was queued.
func (c *Client) setState(ch connstate.Change) {
	c.evMu.Lock()
	if c.ctx.Err() != nil && ch.To != StateClosed {
		c.evMu.Unlock()
		return
	}
	done, ok := c.state.Set(ch)
	if ok {
		c.disp.event(done)
	}
	c.evMu.Unlock()
	if ok {
		c.opts.Logger.Debug("realtime: state", "from", done.From.String(), "to", done.To.String(), "reason", done.Reason, "transport", done.Transport)
	}
}
