package engine

import (
	"context"
	"errors"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/transport"
)

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
			if err := e.sess.Hold(f.Seq, len(f.Data)); err != nil {
				return engineErr(err)
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
			e.disp.deliver(Message{Channel: f.Channel, Data: f.Data, Seq: f.Seq, Epoch: e.sess.Epoch,
				Time: f.Time, From: f.From, Header: f.Header, Redelivered: e.redelivered(f.Seq)})
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
