package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/realtimekit/realtime/codec"
)

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
		switch {
		case e.sess.SentUnacked() == 0:
			waitSince = 0
		case waitSince == 0:
			waitSince = mono
		case mono-max(waitSince, l.ackAt.Load()) > int64(ackLimit):
			e.mu.Unlock()
			return nil, fmt.Errorf("%w: nothing sent was acknowledged for %v", ErrLinkDead, ackLimit)
		}
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
		// What the frames number, and the processed frames an ack
		// acknowledges, are recorded before the server can see them.
		if len(frames) > 0 {
			_ = e.commit()
		}
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
	if e.store != nil {
		// The session outlives the process: the next Client on the store
		// resumes it. The link is only closed.
		return
	}
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
