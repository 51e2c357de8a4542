package engine

import (
	"time"

	"github.com/realtimekit/realtime/internal/negotiate"
	"github.com/realtimekit/realtime/transport"
)

// probed is the result of a probe that sent connect over a better
// transport: a link ready to take the session over, or why not.
type probed struct {
	next      *link // nil when err is set
	transport string
	err       error
}

// startProbe starts the background probe for a better transport when the
// link runs on a lesser one. The probe ends with the link.
func (e *Engine) startProbe(l *link) {
	if e.cfg.UpgradeInterval < 0 || len(e.better(l.transport)) == 0 {
		return
	}
	// Made only here: most links (on the best transport, or with probes
	// off) never have a probe, and a nil channel is never ready.
	l.upgrade = make(chan probed)
	e.wg.Add(1)
	go e.probe(l)
}

// better returns the transports configured before current, best first.
func (e *Engine) better(current string) []transport.Transport {
	for i, t := range e.cfg.Transports {
		if t.Name() == current {
			return e.cfg.Transports[:i]
		}
	}
	return nil
}

// probe tries, every UpgradeInterval, each transport better than the
// link's, best first, until one opens the session; the client thus climbs
// back to the best transport that works, not only the first. Dial and
// handshake run here, on the probe's own goroutine: the live link is never
// held up by a dial or a hello that does not come. A link that works is
// handed to the writer, which moves the session onto it (see upgrade).
func (e *Engine) probe(l *link) {
	defer e.wg.Done()
	t := time.NewTimer(e.cfg.UpgradeInterval)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		for _, cand := range e.better(l.transport) {
			// The probe leaves half the connects ceiling to the connection
			// loop: it skips a round rather than wait.
			if ok, _ := e.connects.take(time.Now(), ConnectBurst/2); !ok {
				break
			}
			next, err := e.probeOnce(l, cand)
			if err == nil {
				select {
				case l.upgrade <- probed{next: next, transport: cand.Name()}:
				case <-l.ctx.Done():
					next.conn.Close()
				}
				return
			}
			e.cfg.Logger.Debug("realtime: upgrade probe failed", "transport", cand.Name(), "err", err)
			// A writer waiting for this probe (awaitProbe) hears of the
			// failure; one that is not has nothing to do with it.
			select {
			case l.upgrade <- probed{transport: cand.Name(), err: err}:
			default:
			}
			if l.ctx.Err() != nil {
				return
			}
		}
		t.Reset(e.cfg.UpgradeInterval)
	}
}

// probeOnce dials best and opens the session over it, within
// HandshakeTimeout. While it runs, l.probing is set: once connect is out
// the server may take the session from the live link.
func (e *Engine) probeOnce(l *link, best transport.Transport) (*link, error) {
	cfg, err := e.config(l.ctx)
	if err != nil {
		return nil, err
	}
	// Set before the resume point is read, and read under e.mu as the
	// writer's acks are: the live link acknowledges nothing beyond it
	// until the probe is done (see write).
	l.probing.Store(true)
	e.mu.Lock()
	connect := e.sess.ConnectFrame()
	e.mu.Unlock()
	nl, err := negotiate.Try(l.ctx, best, e.cfg.HandshakeTimeout, e.cfg.URL, cfg, e.codec, connect)
	var next *link
	if err == nil {
		next, err = e.newLink(nl)
	}
	if err != nil {
		l.probing.Store(false)
		e.signal() // an ack held back may be due
		return nil, err
	}
	return next, nil
}

// upgrade takes a probe's result: the link to move the session onto, or
// nil when that attempt failed. Moving is a resume
// over the new transport: the server hands the session to the new
// connection and closes the old one, each side resends what the other has
// not acknowledged, and sequence numbers drop what arrives twice. So
// nothing is lost, duplicated or reordered, and no special protocol is
// needed.
func (e *Engine) upgrade(l *link, p probed) *link {
	if p.err != nil { // the probe carries on by itself
		return nil
	}
	l.probing.Store(false)
	e.signal() // an ack held back may be due
	e.neg.Remember(p.transport)
	return p.next
}

// awaitProbe is called when l's reader ended: if a probe had sent connect,
// the server may have closed l because the probe took the session over, so
// wait for the probe's hello (bounded by its HandshakeTimeout) and move
// onto it. It returns nil when no probe was under way or it failed.
func (e *Engine) awaitProbe(l *link) *link {
	if !l.probing.Load() {
		return nil
	}
	t := time.NewTimer(e.cfg.HandshakeTimeout + time.Second)
	defer t.Stop()
	select {
	case p := <-l.upgrade:
		l.probing.Store(false)
		if p.err != nil {
			return nil
		}
		e.neg.Remember(p.transport)
		return p.next
	case <-t.C:
	case <-e.ctx.Done():
	}
	return nil
}
