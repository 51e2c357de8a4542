package server

import (
	"context"
	"errors"
	"time"

	"github.com/realtimekit/realtime/codec"
)

// writeLoop is the only sender after hello: it drains the session's kept
// frames as batches, adds acks, sends pings, and watches that the peer is
// still sending. It closes the transport when it returns.
func (c *conn) writeLoop() {
	defer c.srv.wg.Done()
	defer close(c.writerDone)
	defer func() { _ = c.tc.Close() }()
	defer c.cancel()

	hb := c.srv.cfg.Heartbeat
	grace := hb + hb/2
	timer := time.NewTimer(hb)
	defer timer.Stop()
	lastSent := time.Now()
	var buf []codec.Frame
	for {
		select {
		case <-c.stopCh:
			c.sendStopError()
			return
		default:
		}
		frames, more, ok := c.sess.collect(c, buf[:0])
		if !ok {
			// Ended or taken over: stop has been called, or will be by
			// the reader; wait for it.
			select {
			case <-c.stopCh:
				c.sendStopError()
			case <-c.ctx.Done():
			}
			return
		}
		now := time.Now()
		if len(frames) == 0 && now.Sub(lastSent) >= hb {
			frames = append(frames, codec.Frame{Type: codec.TypePing})
		}
		if len(frames) > 0 {
			sent, err := c.send(frames)
			if err != nil {
				c.srv.cfg.Logger.Debug("send failed", "err", err)
				return
			}
			if sent { // a filtered batch leaves the heartbeat due
				lastSent = time.Now()
			}
		}
		clear(frames)
		buf = frames
		if more {
			continue
		}
		idle := time.Since(time.Unix(0, c.lastRecv.Load()))
		if idle >= grace {
			c.srv.cfg.Logger.Debug("peer silent, closing", "idle", idle)
			return
		}
		timer.Reset(min(hb-time.Since(lastSent), grace-idle))
		select {
		case <-c.wake:
		case <-timer.C:
		case <-c.stopCh:
		case <-c.ctx.Done():
			return
		}
	}
}

// sendStopError sends the error frame that stop asked for, if any.
func (c *conn) sendStopError() {
	c.mu.Lock()
	code, reason := c.errCode, c.errReason
	c.mu.Unlock()
	if code != 0 {
		_, _ = c.send([]codec.Frame{{Type: codec.TypeError, Code: code, Reason: reason}})
	}
}

// send encodes frames as one message (or more, should they not fit in
// one) and sends it, bounded by the time a live peer needs to take it. It
// reports whether anything was sent: FilterSend may leave nothing.
func (c *conn) send(frames []codec.Frame) (bool, error) {
	if h := c.srv.hooks.FilterSend; h != nil {
		frames = h(c.info, frames)
		if len(frames) == 0 {
			return false, nil
		}
	}
	return true, c.sendEncoded(frames)
}

func (c *conn) sendEncoded(frames []codec.Frame) error {
	msg, err := c.cd.Encode(c.enc[:0], frames...)
	var se *codec.SizeError
	if errors.As(err, &se) && len(frames) > 1 {
		h := len(frames) / 2
		if err := c.sendEncoded(frames[:h]); err != nil {
			return err
		}
		return c.sendEncoded(frames[h:])
	}
	if err != nil {
		c.srv.cfg.Logger.Error("cannot encode frame", "err", err)
		return err
	}
	// The transport keeps no reference to msg, so its buffer is reused,
	// unless a large batch made it too big to keep around idle.
	if cap(msg) <= maxKeptBuffer {
		c.enc = msg
	}
	// Bounded by c.dog: past the time a live peer needs to take it, the
	// connection ends, which ends the send.
	c.dog.Sending()
	defer c.dog.Sent()
	ctx := context.Background()
	if c.srv.cfg.Observer == nil {
		return c.tc.Send(ctx, msg)
	}
	began := time.Now()
	err = c.tc.Send(ctx, msg)
	if err == nil {
		c.srv.observe(Event{Kind: EventSend, Client: c.client, Frames: len(frames), Bytes: len(msg), Latency: time.Since(began)})
	}
	return err
}

const maxKeptBuffer = 64 << 10
