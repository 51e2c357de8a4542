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

// startProbe starts the background probe for the best transport when the
// link runs on a lesser one. The probe ends with the link.
func (c *Client) startProbe(l *link) {
	if c.opts.UpgradeInterval < 0 || len(c.opts.Transports) < 2 || l.transport == c.opts.Transports[0].Name() {
		return
	}
	c.wg.Add(1)
	go c.probe(l)
}

// probe dials the best transport every UpgradeInterval and runs the
// handshake over it, all on its own goroutine: the live link is never
// held up by a dial or a hello that does not come. Once it has sent
// connect it hands its result to the link's writer, which moves the
// session over (see upgrade), and ends; the writer starts another probe
// if that one failed.
func (c *Client) probe(l *link) {
	defer c.wg.Done()
	best := c.opts.Transports[0]
	t := time.NewTimer(c.opts.UpgradeInterval)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		// The probe leaves half the connects ceiling to the connection
		// loop: it skips a round rather than wait.
		if ok, _ := c.connects.take(time.Now(), connectBurst/2); !ok {
			t.Reset(c.opts.UpgradeInterval)
			continue
		}
		next, sent, err := c.probeOnce(l, best)
		if sent {
			if err != nil {
				next = nil
			}
			select {
			case l.upgrade <- probed{next: next, transport: best.Name(), err: err}:
			case <-l.ctx.Done():
				if next != nil {
					next.conn.Close()
				}
			}
			return
		}
		c.opts.Logger.Debug("realtime: upgrade probe failed", "transport", best.Name(), "err", err)
		t.Reset(c.opts.UpgradeInterval)
	}
}

// probeOnce dials best and opens the session over it, within
// HandshakeTimeout. It reports whether connect may have gone out: from then
// on the server may take the session from the live link.
func (c *Client) probeOnce(l *link, best transport.Transport) (next *link, sent bool, err error) {
	cfg, err := c.config(l.ctx)
	if err != nil {
		return nil, false, err
	}
	// Set before the resume point is read, and read under c.mu as the
	// writer's acks are: the live link acknowledges nothing beyond it
	// until the probe is done (see write).
	l.probing.Store(true)
	c.mu.Lock()
	connect := c.sess.ConnectFrame()
	c.mu.Unlock()
	nl, err := negotiate.Try(l.ctx, best, c.opts.HandshakeTimeout, c.url, cfg, c.codec, connect)
	if err == nil {
		next, err = c.newLink(nl)
	}
	if err != nil {
		l.probing.Store(false)
		c.signal() // an ack held back may be due
		return nil, true, err
	}
	return next, true, nil
}

// upgrade takes a probe's result: the link to move the session onto, or
// nil when the probe failed (another probe starts). Moving is a resume
// over the new transport: the server hands the session to the new
// connection and closes the old one, each side resends what the other has
// not acknowledged, and sequence numbers drop what arrives twice. So
// nothing is lost, duplicated or reordered, and no special protocol is
// needed.
func (c *Client) upgrade(l *link, p probed) *link {
	l.probing.Store(false)
	c.signal() // an ack held back may be due
	if p.err != nil {
		c.opts.Logger.Debug("realtime: upgrade failed", "transport", p.transport, "err", p.err)
		c.startProbe(l)
		return nil
	}
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
