package server

import (
	"context"
	"errors"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/protocol"
)

func (c *conn) readLoop() {
	var buf []codec.Frame
	for {
		msg, err := c.tc.Recv(context.Background()) // ends when c.ctx does
		if err != nil {
			c.refuseRecv(err)
			return
		}
		frames, ok := c.decode(msg, buf[:0])
		if !ok || !c.process(frames) {
			return
		}
		clear(frames) // drop payload references until the next message
		buf = frames
	}
}

// process acts on the frames of one message, in order (PROTOCOL.md
// section 5), and reports whether the connection goes on.
func (c *conn) process(frames []codec.Frame) bool {
	if len(frames) == 0 {
		return true
	}
	s := c.sess
	s.proc.Lock()
	defer s.proc.Unlock()
	defer c.hookCtx.release()
	s.mu.Lock()
	mine := s.conn == c && !s.ended
	s.mu.Unlock()
	if !mine {
		return false
	}
	for i := range frames {
		f := &frames[i]
		switch f.Type {
		case codec.TypePing:
		case codec.TypeAck:
			if !c.ack(f.Ack) {
				return false
			}
		case codec.TypeClose:
			s.end(0, "")
			return false
		case codec.TypePublish, codec.TypeSubscribe, codec.TypeUnsub:
			if !c.sequenced(f) {
				return false
			}
		default:
			c.refuse(4000, "bad frame: unexpected "+f.Type.String())
			return false
		}
	}
	if s.cl != nil {
		// The acks of this message's frames wait for their record.
		if err := c.srv.persist(s, false); err != nil {
			c.persistFailed(err)
			return false
		}
	}
	return true
}

func (c *conn) ack(a uint64) bool {
	s := c.sess
	s.mu.Lock()
	ok := a <= c.sent
	if ok {
		s.ackLocked(a)
	}
	s.mu.Unlock()
	if !ok {
		c.refuse(4500, "protocol violation: ack of a frame never sent")
	}
	return ok
}

// sequenced applies the receiving rules to one client frame and acts on
// it when it is the next one.
func (c *conn) sequenced(f *codec.Frame) bool {
	s := c.sess
	switch {
	case f.Seq == 0:
		c.refuse(4000, "bad frame: missing sequence number")
		return false
	case f.Seq <= c.lastSeq:
		c.refuse(4500, "protocol violation: sequence number not increasing")
		return false
	}
	c.lastSeq = f.Seq
	s.mu.Lock()
	last, acked := s.lastIn, s.ackSentMax
	s.mu.Unlock()
	switch {
	case f.Seq <= last:
		c.wakeup() // a resend: it counts for the next ack
		return true
	case f.Seq > last+1:
		c.refuse(4500, "protocol violation: sequence gap")
		return false
	case f.Seq > acked+Window:
		c.refuse(4500, "protocol violation: window exceeded")
		return false
	}
	// The frame is acted on with a ctx of its own: a connection lost
	// meanwhile must not make a done publish look undone, or the client
	// would resend it and it would be delivered twice.
	var began time.Time
	if c.srv.cfg.Observer != nil {
		began = time.Now()
	}
	refusal := c.do(f)
	if c.srv.cfg.Observer != nil {
		c.observeFrame(f, refusal, time.Since(began))
	}
	var nack codec.Frame
	if refusal != nil {
		nack = codec.Frame{Type: codec.TypeNack, Ref: f.Seq, Code: refusal.Code, Reason: truncate(refusal.Reason, maxReason)}
		if s.cl != nil && !c.nackClustered(f.Seq, nack) {
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended { // while the frame was acted on: nothing is owed any more
		return false
	}
	s.lastIn = f.Seq
	if refusal != nil {
		c.srv.stats.refused.Add(1)
		if s.cl == nil {
			s.appendLocked(nack, 0)
		}
	}
	c.wakeup() // an ack is due
	return true
}

// nackClustered publishes a nack as an event of the session, which numbers
// it when the log delivers it. A refusal that means the engine is
// unreachable ends the connection instead, without a nack: the client
// sends the frame again later.
func (c *conn) nackClustered(seq uint64, nack codec.Frame) bool {
	s := c.sess
	if nack.Code == codeUnavailable {
		c.refuse(codeUnavailable, reasonUnavailable)
		return false
	}
	s.mu.Lock()
	_, done := s.cl.nacked[seq] // by a node that failed before storing lastIn
	if !done {
		s.cl.pendingNacks[seq] = struct{}{}
	}
	s.mu.Unlock()
	if done {
		return true
	}
	ctx := c.hookCtx.get(c.srv.base, c.srv.cfg.HookTimeout)
	m := Message{Channel: s.cl.private, Data: nackEvent(nack), ID: s.pubID(seq) + "n"}
	if err := c.srv.cfg.Broker.Publish(ctx, m); err != nil {
		s.mu.Lock()
		delete(s.cl.pendingNacks, seq)
		s.mu.Unlock()
		c.srv.cfg.Logger.Warn("nack not stored", "err", err)
		c.refuse(codeUnavailable, reasonUnavailable)
		return false
	}
	return true
}

// do carries out a pub, sub or unsub and returns the refusal, if any.
func (c *conn) do(f *codec.Frame) *Refusal {
	srv, s := c.srv, c.sess
	if !ValidChannel(f.Channel) {
		return &Refusal{Code: 4010, Reason: "invalid channel name"}
	}
	ctx := c.hookCtx.get(srv.base, srv.cfg.HookTimeout)
	switch f.Type {
	case codec.TypePublish:
		if err := protocol.CheckHeader(f.Header); err != nil {
			return &Refusal{Code: protocol.CodeBadHeader, Reason: err.Error()}
		}
		m := Message{Channel: f.Channel, Data: f.Data, ID: s.pubID(f.Seq), From: c.client.Identity.ID, Header: f.Header}
		if !srv.fits(&m) {
			return &Refusal{Code: 4009, Reason: "message too large to deliver"}
		}
		if s.cl != nil && f.Seq > s.hooked {
			// Stored by the node that served the session before?
			switch stored, err := c.storedElsewhere(ctx, f); {
			case err != nil:
				return c.brokerRefusal(err)
			case stored:
				s.hooked = f.Seq
				return nil
			}
		}
		// A publish accepted before its Broker publish failed is not put
		// to the hooks again.
		if f.Seq > s.hooked {
			if r := c.hooks(ctx, f); r != nil {
				return r
			}
			s.hooked = f.Seq
		}
		m.Time = time.Now() // accepted: the time subscribers see
		if r := c.brokerRefusal(srv.cfg.Broker.Publish(ctx, m)); r != nil {
			return r
		}
		srv.stats.published.Add(1)
	case codec.TypeSubscribe:
		s.mu.Lock()
		_, dup := s.subs[f.Channel]
		full := len(s.subs) >= srv.cfg.MaxSubscriptions
		s.mu.Unlock()
		switch {
		case dup:
			return nil
		case full:
			return &Refusal{Code: 4003, Reason: "too many subscriptions"}
		}
		if r := c.authorize(ctx, Subscribe, f.Channel); r != nil {
			return r
		}
		if s.cl != nil {
			if r := c.brokerRefusal(c.subscribeClustered(ctx, f)); r != nil {
				return r
			}
		} else if r := c.refusal(srv.hub.subscribe(ctx, f.Channel, s), 5000); r != nil {
			return r
		}
		s.mu.Lock()
		ended := s.ended
		if !ended {
			s.subs[f.Channel] = struct{}{}
		}
		s.mu.Unlock()
		if ended { // its clean-up may have run already
			srv.unsubscribe(s, f.Channel)
		}
	case codec.TypeUnsub:
		s.mu.Lock()
		_, had := s.subs[f.Channel]
		if s.cl == nil { // in cluster mode, once the event is applied
			delete(s.subs, f.Channel)
		}
		s.mu.Unlock()
		switch {
		case !had:
		case s.cl != nil:
			return c.brokerRefusal(c.unsubscribeClustered(ctx, f))
		default:
			srv.unsubscribe(s, f.Channel)
		}
	}
	return nil
}

// hooks applies the rate limit, Authorize and OnPublish to a publish.
func (c *conn) hooks(ctx context.Context, f *codec.Frame) *Refusal {
	srv := c.srv
	if !c.sess.rate.take(time.Now(), srv.cfg.PublishRate, srv.cfg.PublishBurst) {
		return &Refusal{Code: 4529, Reason: "rate limited: publish more slowly"}
	}
	if r := c.authorize(ctx, Publish, f.Channel); r != nil {
		return r
	}
	if h := srv.cfg.OnPublish; h != nil {
		p := Publication{Client: c.client, Channel: f.Channel, Data: f.Data, Seq: f.Seq, Header: f.Header}
		if r := c.refusal(h(ctx, p), 5000); r != nil {
			return r
		}
	}
	return nil
}

// brokerRefusal maps the Broker's error: in cluster mode the engine is
// unreachable (code 5003, which ends the connection rather than nacking),
// otherwise code 5000.
func (c *conn) brokerRefusal(err error) *Refusal {
	if err != nil && c.sess.cl != nil {
		c.srv.cfg.Logger.Warn("broker unreachable", "err", err)
		return &Refusal{Code: codeUnavailable, Reason: reasonUnavailable}
	}
	return c.refusal(err, 5000)
}

// authorize asks Authorize, if set, whether the client may act on channel.
func (c *conn) authorize(ctx context.Context, a Action, channel string) *Refusal {
	h := c.srv.cfg.Authorize
	if h == nil {
		return nil
	}
	return c.refusal(h(ctx, Access{Client: c.client, Action: a, Channel: channel}), 4003)
}

// refusal maps a hook's or the broker's error to a nack: a *Refusal with
// a code gives its own, any other error code.
func (c *conn) refusal(err error, code uint16) *Refusal {
	if err == nil {
		return nil
	}
	var r *Refusal
	if errors.As(err, &r) && r.Code != 0 {
		return r
	}
	if code == 4003 {
		return &Refusal{Code: code, Reason: "forbidden"}
	}
	c.srv.cfg.Logger.Warn("client frame failed", "err", err)
	return &Refusal{Code: code, Reason: "internal server error"}
}

// hookCtx hands out the ctx of the hooks and Broker publishes of the frames
// of one message. A context with a deadline costs an allocation and a
// timer; made per frame it was a fifth of the server's work on a stream of
// small publishes. One serves consecutive frames while at least half of
// HookTimeout remains on it, so every frame's hooks still get between half
// and all of HookTimeout. Only the connection's read loop uses it.
type hookCtx struct {
	ctx      context.Context
	cancel   context.CancelFunc
	deadline time.Time
}

// get returns a context of base that ends in at least d/2 and at most d.
func (h *hookCtx) get(base context.Context, d time.Duration) context.Context {
	now := time.Now()
	if h.ctx == nil || h.deadline.Sub(now) < d/2 {
		h.release()
		h.deadline = now.Add(d)
		h.ctx, h.cancel = context.WithDeadline(base, h.deadline)
	}
	return h.ctx
}

// release ends the context handed out, if any.
func (h *hookCtx) release() {
	if h.cancel != nil {
		h.cancel()
	}
	h.ctx, h.cancel = nil, nil
}

// observeFrame reports a pub, sub or unsub acted on.
func (c *conn) observeFrame(f *codec.Frame, r *Refusal, took time.Duration) {
	e := Event{Kind: EventPublish, Client: c.client, Channel: f.Channel, Bytes: len(f.Data), Header: f.Header, Latency: took}
	switch f.Type {
	case codec.TypeSubscribe:
		e.Kind = EventSubscribe
	case codec.TypeUnsub:
		e.Kind = EventUnsubscribe
	}
	if r != nil {
		e.Code = r.Code
	}
	c.srv.observe(e)
}
