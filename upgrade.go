package realtime

import (
	"context"
	"time"

	"github.com/realtimekit/realtime/transport"
)

// probed is a connection of a better transport, dialled but not yet
// handshaken.
type probed struct {
	conn      transport.Conn
	transport string
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

// probe dials the best transport every UpgradeInterval until one dial
// succeeds, and hands that connection to the link's writer, which moves the
// session onto it (see upgrade).
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
		cfg, err := c.config(l.ctx)
		if err == nil {
			dctx, cancel := context.WithTimeout(l.ctx, c.opts.HandshakeTimeout)
			var conn transport.Conn
			conn, err = best.Dial(dctx, c.url, cfg)
			cancel()
			if err == nil {
				select {
				case l.upgrade <- probed{conn: conn, transport: best.Name()}:
				case <-l.ctx.Done():
					conn.Close()
				}
				return
			}
		}
		c.opts.Logger.Debug("realtime: upgrade probe failed", "transport", best.Name(), "err", err)
		t.Reset(c.opts.UpgradeInterval)
	}
}

// upgrade moves the live session onto p's connection. It is a resume over
// the new transport: the server hands the session to the new connection and
// closes the old one, each side resends what the other has not
// acknowledged, and sequence numbers drop what arrives twice. So nothing is
// lost, duplicated or reordered, and no special protocol is needed. The
// writer runs it, so nothing is sent on the old link meanwhile.
func (c *Client) upgrade(p probed) (*link, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.HandshakeTimeout)
	defer cancel()
	l, err := c.handshake(ctx, p.conn)
	if err != nil {
		p.conn.Close()
		return nil, err
	}
	l.conn, l.transport = p.conn, p.transport
	c.neg.Remember(p.transport)
	return l, nil
}
