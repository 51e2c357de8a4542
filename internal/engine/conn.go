package engine

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
	"github.com/realtimekit/realtime/reconnect"
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

// SkewWallClock moves the engine's view of the wall clock by d, as a
// suspend and resume of the device would; it returns a restore func. For
// tests.
func SkewWallClock(d time.Duration) (restore func()) {
	wallSkew.Add(int64(d))
	return func() { wallSkew.Add(-int64(d)) }
}

// errClockJump ends a link when the wall clock moved ahead of the monotonic
// clock by more than a heartbeat interval: the device was suspended, and
// the connection is almost surely dead even if no error says so yet.
var errClockJump = errors.New("realtime: wall clock jumped ahead (device suspended?): reconnecting")

// dial negotiates a transport, opening the session over it.
func (e *Engine) dial() (*link, error) {
	cfg, err := e.config(e.ctx)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.sess.NewConnection() // the previous link's reader and writer are done
	connect := e.sess.ConnectFrame()
	e.mu.Unlock()
	nl, attempts, err := e.neg.Dial(e.ctx, e.cfg.URL, cfg, e.codec, connect)
	e.mu.Lock()
	e.attempts = attempts
	e.mu.Unlock()
	for _, a := range attempts {
		if a.Err != nil {
			e.cfg.Logger.Debug("realtime: transport attempt failed", "transport", a.Transport, "took", a.Took, "err", a.Err)
		}
	}
	if err != nil {
		return nil, err
	}
	return e.newLink(nl)
}

// config is what every dial needs, with a fresh token when the application
// provides them.
func (e *Engine) config(ctx context.Context) (transport.Config, error) {
	cfg := transport.Config{
		HTTPClient: e.cfg.HTTPClient,
		Header:     e.cfg.Header,
		Codec:      e.codec.Name(),
		Binary:     e.codec.Binary(),
		ReadLimit:  int64(e.cfg.MaxMessageSize),
	}
	if e.cfg.Token != nil {
		tok, err := e.cfg.Token(ctx)
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
func (e *Engine) newLink(nl negotiate.Link) (*link, error) {
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
func (e *Engine) serve(l *link) (worked bool, err error) {
	reason := "connected"
	start := time.Now()
	for {
		next, err := e.serveLink(l, reason)
		worked = worked || l.progress.Load() || time.Since(start) >= healthyAfter(l.hb)
		if next == nil {
			return worked, err
		}
		e.cfg.Logger.Info("realtime: transport upgraded", "from", l.transport, "to", next.transport)
		reason = "transport upgraded from " + l.transport
		l = next
		// The old link's reader and writer are done: the session's
		// per-connection state starts over for the new one.
		e.mu.Lock()
		e.sess.NewConnection()
		e.mu.Unlock()
	}
}

// serveLink runs one link. It returns the next link when the session moved
// onto a better transport, or the error that ended the link.
func (e *Engine) serveLink(l *link, reason string) (*link, error) {
	defer e.closeLink(l)
	hello := l.pending[0]
	e.mu.Lock()
	continued, err := e.sess.Hello(hello, e.cfg.ResendOnSessionLoss)
	if err == nil && !continued {
		e.resubscribeLocked()
	}
	epoch := e.sess.Epoch
	e.transport = l.transport
	e.count.connects++
	if !continued {
		e.count.lost++
	}
	if reason != "connected" {
		e.count.upgrades++
	}
	e.mu.Unlock()
	if err != nil {
		return nil, engineErr(err)
	}
	if !continued {
		e.disp.dropStale(epoch)
	}
	ch := connstate.Change{To: reconnect.Connected, Reason: reason, Transport: l.transport}
	switch {
	case !continued:
		ch.Reason, ch.ContinuityLost = "session not resumed", true
	case hello.Resumed && reason == "connected":
		ch.Reason = "session resumed"
	}
	e.setState(ch)
	e.cfg.Logger.Info("realtime: connected", "transport", l.transport, "session", hello.Session, "resumed", hello.Resumed)

	err = e.process(l, l.pending[1:])
	l.pending = nil // and the message they were decoded from, for the link's life
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.ctx = ctx
	l.upgrade = make(chan probed)
	// Reads and sends take no ctx of their own (one costs an allocation and
	// a registration per call): the watchdog bounds them, closing the conn.
	dead := l.hb + e.grace(l.hb)
	l.dog.Start(dead, dead, func(cause watchdog.Cause) {
		err := fmt.Errorf("%w: a send was not taken within %v: the server is not reading", ErrLinkDead, cause.Limit)
		if cause.Silent {
			err = fmt.Errorf("%w: no frame from the server for %v (heartbeat %v)", ErrLinkDead, cause.For.Round(time.Millisecond), l.hb)
		}
		l.dead.Store(&err)
		e.abortLink(l)
	})
	e.mu.Lock()
	e.dog = &l.dog // Close shortens a send under way
	e.mu.Unlock()
	e.wg.Add(1)
	go e.read(l)
	e.startProbe(l)
	next, err := e.write(l)
	l.dog.Stop()   // a Close that still finds it gets a no-op Shorten
	e.closeLink(l) // unblocks the reader
	cancel()       // and the probe
	rerr := <-l.readErr
	e.mu.Lock()
	e.transport, e.dog = "", nil
	e.mu.Unlock()
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
func (e *Engine) closeLink(l *link) {
	l.closeOnce.Do(func() {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			l.conn.Close()
		}()
	})
}

// abortLink ends l's conn at once, when the watchdog found it dead: no
// goodbye, which could only time out.
func (e *Engine) abortLink(l *link) {
	if a, ok := l.conn.(transport.Aborter); ok {
		a.Abort()
	}
	e.closeLink(l)
}

// resubscribeLocked renews every subscription after a lost session, ahead
// of anything else queued. e.mu is held.
func (e *Engine) resubscribeLocked() {
	ops := make([]*session.Op, 0, len(e.subs))
	for ch := range e.subs {
		op := session.NewOp(codec.Frame{Type: codec.TypeSubscribe, Channel: ch})
		op.Internal = true
		ops = append(ops, op)
	}
	e.sess.Requeue(ops...)
}

// read is the link's reader goroutine.
func (e *Engine) read(l *link) {
	defer e.wg.Done()
	var frames []codec.Frame
	for {
		msg, err := l.conn.Recv(context.Background()) // ends when serveLink closes the conn
		if err != nil {
			if errors.Is(err, transport.ErrTooLarge) {
				err = &ProtocolError{Reason: "message over the size limit", Err: err}
			}
			l.readErr <- err
			e.signal()
			return
		}
		l.dog.Received()
		frames, err = e.codec.Decode(frames[:0], msg)
		if err == nil {
			err = e.process(l, frames)
		} else {
			err = &ProtocolError{Reason: "undecodable message", Err: err}
		}
		if err != nil {
			l.readErr <- err
			e.closeLink(l)
			e.signal()
			return
		}
	}
}

// process applies the frames of one received message.
func (e *Engine) process(l *link, frames []codec.Frame) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range frames {
		f := &frames[i]
		switch f.Type {
		case codec.TypeAck:
			n, _ := e.sess.Len()
			if err := e.sess.Ack(f.Ack); err != nil {
				return engineErr(err)
			}
			if m, _ := e.sess.Len(); m < n {
				l.progress.Store(true)
				l.ackAt.Store(now())
			}
			if e.sess.Pending() { // the ack opened the window for what waits
				e.signal()
			}
		case codec.TypeMessage, codec.TypeNack:
			fresh, err := e.sess.Inbound(f.Seq)
			if err != nil {
				return engineErr(err)
			}
			if !fresh {
				continue
			}
			if f.Type == codec.TypeNack {
				if err := e.sess.Nack(f.Ref, f.Code, f.Reason); err != nil {
					return engineErr(err)
				}
				if e.sess.Processed(e.sess.Epoch, f.Seq) >= ackEvery {
					e.signal()
				}
				continue
			}
			e.disp.deliver(Message{Channel: f.Channel, Data: f.Data, Seq: f.Seq, Epoch: e.sess.Epoch})
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

// Processed is called by the façade's dispatcher once a message's handler
// returned (delivered false: no handler took it); the message counts as
// processed and is acknowledged in the next batch.
func (e *Engine) Processed(epoch, seq uint64, delivered bool) {
	e.mu.Lock()
	if delivered {
		e.count.delivered++
	}
	n := e.sess.Processed(epoch, seq)
	e.mu.Unlock()
	if n == 1 || n >= ackEvery {
		e.signal()
	}
}

// write is the connection loop while a link is up: it sends what the
// session has to send, coalescing frames, acknowledgements and heartbeats
// into as few messages as it can.
func (e *Engine) write(l *link) (*link, error) {
	beat := time.NewTimer(l.hb)
	defer beat.Stop()
	var ack *time.Timer // made when an ack first waits: many clients never receive
	var ackC <-chan time.Time
	defer func() {
		if ack != nil {
			ack.Stop()
		}
	}()
	budget := e.limit / 2
	var frames []codec.Frame
	var buf []byte
	mono, wall := now(), wallNow()
	// A server that takes frames and pings back but never acknowledges
	// would leave the client connected for ever with a full outbox.
	ackLimit := e.ackLimit(l.hb)
	var waitSince int64 // when frames sent on l began to wait for an ack
	for {
		sendPing, sendAck := false, false
		select {
		case <-e.ctx.Done():
			e.sendClose(l)
			return nil, e.ctx.Err()
		case err := <-l.readErr:
			l.readErr <- err // serve collects it
			// The server closes a link whose session a probe's connect
			// took over: the probe's hello is on its way.
			if next := e.awaitProbe(l); next != nil {
				return next, nil
			}
			return nil, nil
		case p := <-l.upgrade:
			if next := e.upgrade(l, p); next != nil {
				return next, nil
			}
			continue
		case <-e.wake:
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
		e.mu.Lock()
		waiting := e.sess.SentUnacked() > 0
		e.mu.Unlock()
		switch {
		case !waiting:
			waitSince = 0
		case waitSince == 0:
			waitSince = mono
		case mono-max(waitSince, l.ackAt.Load()) > int64(ackLimit):
			return nil, fmt.Errorf("%w: nothing sent was acknowledged for %v", ErrLinkDead, ackLimit)
		}
		e.mu.Lock()
		firstNew := e.sess.NextSeq()
		frames = e.sess.Fill(frames[:0], budget)
		// No ack while a probe's connect is out: it carries the resume point,
		// which the server refuses once an ack went past it.
		if a, due := e.sess.AckDue(); due && !l.probing.Load() {
			if sendAck || e.sess.Unacked() >= ackEvery || len(frames) > 0 {
				// First, so that a publish failed by send cannot hold it back.
				frames = slices.Insert(frames, 0, codec.Frame{Type: codec.TypeAck, Ack: a})
				e.sess.AckSent(a)
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
		more := e.sess.Pending()
		e.mu.Unlock()
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
		buf, _, err = e.send(l, buf, frames, firstNew)
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
			e.signal()
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
func (e *Engine) send(l *link, buf []byte, frames []codec.Frame, firstNew uint64) (_ []byte, rewound bool, err error) {
	out, err := e.codec.Encode(buf[:0], frames...)
	if err == nil && len(out) > e.limit {
		err = &codec.SizeError{Size: len(out), Limit: e.limit}
	}
	if err == nil {
		l.dog.Sending()
		err = l.conn.Send(context.Background(), out) // bounded by l.dog
		l.dog.Sent()
		return out, false, err
	}
	if len(frames) > 1 {
		half := len(frames) / 2
		buf, rewound, err = e.send(l, buf, frames[:half], firstNew)
		if err != nil || rewound {
			return buf, rewound, err
		}
		return e.send(l, buf, frames[half:], firstNew)
	}
	f := frames[0]
	if f.Type != codec.TypePublish || f.Seq < firstNew {
		return buf, false, fmt.Errorf("realtime: cannot encode a %v frame: %w", f.Type, err)
	}
	cause := ErrMessageTooLarge
	if !errors.Is(err, codec.ErrTooLarge) {
		cause = fmt.Errorf("realtime: the codec cannot encode this publish: %w", err)
	}
	e.mu.Lock()
	ok := e.sess.Rewind(f.Seq, cause)
	e.mu.Unlock()
	if !ok {
		return buf, false, fmt.Errorf("realtime: cannot encode publish %d: %w", f.Seq, err)
	}
	e.cfg.Logger.Warn("realtime: publish failed locally: the codec could not encode it", "err", err)
	e.signal() // what was given back waits to be sent
	return buf, true, nil
}

// sendClose tells the server the session ends on purpose, best effort,
// by CloseTimeout after Close was called. A goodbye the link did not take
// leaves nothing to close gracefully: the link is aborted.
func (e *Engine) sendClose(l *link) {
	msg, err := e.codec.Encode(nil, codec.Frame{Type: codec.TypeClose, Code: 1000, Reason: "client closed"})
	if err != nil {
		return
	}
	deadline := time.Now().Add(closeWait)
	if at := e.closeAt.Load(); at != 0 {
		deadline = time.Unix(0, at).Add(closeWait)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if l.conn.Send(ctx, msg) != nil {
		e.abortLink(l)
	}
}

func (e *Engine) setErr(err error) {
	e.mu.Lock()
	e.lastErr = err
	e.mu.Unlock()
}

func (e *Engine) fail(err error) {
	if err == nil || e.ctx.Err() != nil {
		return
	}
	e.mu.Lock()
	e.lastErr, e.failed = err, err
	e.sess.FailAll(err)
	e.mu.Unlock()
	e.setState(connstate.Change{To: reconnect.Failed, Reason: "permanent error", Err: err})
	e.cfg.Logger.Error("realtime: failed", "err", err)
}

// setState records a change and queues it for Options.OnStateChange.
//
// The change is recorded and queued under evMu, as one step: a goroutine
// woken by the new state (Connect returning, then Close) must not find the
// dispatcher drained before the change that woke it was queued.
func (e *Engine) setState(ch connstate.Change) {
	e.evMu.Lock()
	if e.ctx.Err() != nil && ch.To != reconnect.Closed {
		e.evMu.Unlock()
		return
	}
	done, ok := e.state.Set(ch)
	if ok {
		e.disp.event(done)
	}
	e.evMu.Unlock()
	if ok {
		e.cfg.Logger.Debug("realtime: state", "from", done.From.String(), "to", done.To.String(), "reason", done.Reason, "transport", done.Transport)
	}
}

// ackLimit is how long frames sent on a link may wait for an
// acknowledgement, with none arriving, before the link is declared dead:
// twice the heartbeat plus its grace.
func (e *Engine) ackLimit(hb time.Duration) time.Duration { return 2 * (hb + e.grace(hb)) }

// grace is how long past the heartbeat the link may stay silent.
func (e *Engine) grace(hb time.Duration) time.Duration {
	if e.cfg.HeartbeatGrace > 0 {
		return e.cfg.HeartbeatGrace
	}
	return max(hb/2, time.Second)
}
