package realtime

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
func (c *Client) startProbe(l *link) {
	if c.opts.UpgradeInterval < 0 || len(c.better(l.transport)) == 0 {
		return
	}
	c.wg.Add(1)
	go c.probe(l)
}

// better returns the transports configured before current, best first.
func (c *Client) better(current string) []transport.Transport {
	for i, t := range c.opts.Transports {
		if t.Name() == current {
			return c.opts.Transports[:i]
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
func (c *Client) probe(l *link) {
	defer c.wg.Done()
	t := time.NewTimer(c.opts.UpgradeInterval)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		for _, cand := range c.better(l.transport) {
			// The probe leaves half the connects ceiling to the connection
			// loop: it skips a round rather than wait.
			if ok, _ := c.connects.take(time.Now(), connectBurst/2); !ok {
				break
			}
			next, err := c.probeOnce(l, cand)
			if err == nil {
				select {
				case l.upgrade <- probed{next: next, transport: cand.Name()}:
				case <-l.ctx.Done():
					next.conn.Close()
				}
				return
			}
			c.opts.Logger.Debug("realtime: upgrade probe failed", "transport", cand.Name(), "err", err)
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
		t.Reset(c.opts.UpgradeInterval)
	}
}

// probeOnce dials best and opens the session over it, within
// HandshakeTimeout. While it runs, l.probing is set: once connect is out
// the server may take the session from the live link.
func (c *Client) probeOnce(l *link, best transport.Transport) (*link, error) {
	cfg, err := c.config(l.ctx)
	if err != nil {
		return nil, err
	}
	// Set before the resume point is read, and read under c.mu as the
	// writer's acks are: the live link acknowledges nothing beyond it
	// until the probe is done (see write).
	l.probing.Store(true)
	c.mu.Lock()
	connect := c.sess.ConnectFrame()
	c.mu.Unlock()
	nl, err := negotiate.Try(l.ctx, best, c.opts.HandshakeTimeout, c.url, cfg, c.codec, connect)
	var next *link
	if err == nil {
		next, err = c.newLink(nl)
	}
	if err != nil {
		l.probing.Store(false)
		c.signal() // an ack held back may be due
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
func (c *Client) upgrade(l *link, p probed) *link {
	if p.err != nil { // the probe carries on by itself
		return nil
	}
	l.probing.Store(false)
	c.signal() // an ack held back may be due
	c.neg.Remember(p.transport)
	return p.next
}

// awaitProbe is called when l's reader ended: if a probe had sent connect,
// the server may have closed l because the probe took the session over, so
// wait for the probe's hello (bounded by its HandshakeTimeout) and move
// onto it. It returns nil when no probe was under way or it failed.
func (c *Client) awaitProbe(l *link) *link {
	if !l.probing.Load() {
		return nil
	}
	t := time.NewTimer(c.opts.HandshakeTimeout + time.Second)
	defer t.Stop()
	select {
	case p := <-l.upgrade:
		l.probing.Store(false)
		if p.err != nil {
			return nil
		}
		c.neg.Remember(p.transport)
		return p.next
	case <-t.C:
	case <-c.ctx.Done():
	}
	return nil
}
