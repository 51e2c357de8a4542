package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
	upgrade   chan probed           // the probe's result, once it sent connect; nil without a probe
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
		HTTPClient:           e.cfg.HTTPClient,
		Header:               e.cfg.Header,
		Codec:                e.codec.Name(),
		AllowedRedirectHosts: e.cfg.AllowedRedirectHosts,
		Binary:               e.codec.Binary(),
		ReadLimit:            int64(e.cfg.MaxMessageSize),
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
//
// The connection loop parks in write for the life of the link, so what
// sits in the frames above it is paid by every idle client: serveLink
// keeps its own small (the set-up is in open), so that the loop's stack
// stays within 4 KiB even while it encodes and sends.
func (e *Engine) serveLink(l *link, reason string) (*link, error) {
	defer e.closeLink(l)
	if err := e.open(l, reason); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.ctx = ctx
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

// open takes the server's hello on l: the session continues or starts
// over, the state becomes Connected, and the frames that came with the
// hello are processed.
func (e *Engine) open(l *link, reason string) error {
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
		return engineErr(err)
	}
	if !continued {
		e.disp.dropStale(epoch)
	}
	// The new token is durable before anything can use it: a resume that
	// presented it, then a power cut that lost it, would lose the session.
	_ = e.commit()
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
	return err
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
	e.subMu.Lock()
	defer e.subMu.Unlock()
	ops := make([]*session.Op, 0, len(e.subs))
	for ch := range e.subs {
		op := session.NewOp(codec.Frame{Type: codec.TypeSubscribe, Channel: ch})
		op.Internal = true
		ops = append(ops, op)
	}
	e.sess.Requeue(ops...)
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
