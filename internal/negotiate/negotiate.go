// Package negotiate chooses the transport a client connects with and opens
// the session over it.
//
// A [Negotiator] tries an explicit, ordered list of transports. A transport
// counts as working only once the server's first protocol message has
// arrived through it within a deadline and decodes to hello or error: that
// is what catches a proxy that accepts a WebSocket upgrade and then closes
// it, or one that buffers an event stream. A refused handshake (403, 426,
// …) moves to the next transport at once; an authentication refusal (401)
// ends the negotiation with no fallback. The transport that worked is
// remembered and tried first next time. Dial returns the connected link and
// the server's first frames: it calls nothing back.
package negotiate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/fallback"
	"github.com/realtimekit/realtime/transport"
)

// Negotiator tries transports in order. Create one per client; it is safe
// for concurrent use. Transports must not be empty.
type Negotiator struct {
	// Transports is the order to try, best first.
	Transports []transport.Transport
	// Deadline bounds each transport's attempt, from dial to the server's
	// first message. Zero means fallback.DefaultDeadline.
	Deadline time.Duration

	mu     sync.Mutex
	winner string // name of the transport that worked last
}

// Link is a connection whose server has answered connect.
type Link struct {
	Conn      transport.Conn
	Transport string
	// Frames are those of the server's first message; Frames[0] is a hello
	// (to be checked by the caller) or an error frame.
	Frames []codec.Frame
}

// ErrNoHello is wrapped when the server's first message through a
// transport is not a hello or error frame of the codec: something on the
// path mangles that transport.
var ErrNoHello = errors.New("negotiate: first message is not a hello")

// Remembered returns the name of the transport that worked last, or "".
func (n *Negotiator) Remembered() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.winner
}

// Remember makes name the transport tried first next time.
func (n *Negotiator) Remember(name string) {
	n.mu.Lock()
	n.winner = name
	n.mu.Unlock()
}

// Order returns the transports in the order the next Dial tries them: the
// remembered one first, then the rest in their configured order.
func (n *Negotiator) Order() []transport.Transport {
	win := n.Remembered()
	out := make([]transport.Transport, 0, len(n.Transports))
	for _, t := range n.Transports {
		if t.Name() == win {
			out = append(out, t)
		}
	}
	for _, t := range n.Transports {
		if t.Name() != win {
			out = append(out, t)
		}
	}
	return out
}

// Dial sends connect over the first transport, in Order, that dials and
// brings the server's answer within the deadline, and returns that link and
// every attempt made. When none works it returns a *fallback.Error; when the
// server refuses authentication it stops at once and the error wraps that
// transport's *transport.HandshakeError (Unauthorized true); when ctx ends
// it returns ctx's error.
func (n *Negotiator) Dial(ctx context.Context, baseURL string, cfg transport.Config, c codec.Codec, connect codec.Frame) (Link, []fallback.Attempt, error) {
	var attempts []fallback.Attempt
	for _, t := range n.Order() {
		start := time.Now()
		l, err := Try(ctx, t, n.Deadline, baseURL, cfg, c, connect)
		attempts = append(attempts, fallback.Attempt{Transport: t.Name(), Err: err, Took: time.Since(start)})
		if err == nil {
			n.Remember(t.Name())
			return l, attempts, nil
		}
		if ctx.Err() != nil {
			return Link{}, attempts, ctx.Err()
		}
		if Unauthorized(err) || Permanent(err) {
			return Link{}, attempts, err
		}
	}
	return Link{}, attempts, &fallback.Error{Attempts: attempts}
}

// Try dials t, sends connect and waits for the server's first message,
// all within d (zero: fallback.DefaultDeadline).
func Try(ctx context.Context, t transport.Transport, d time.Duration, baseURL string, cfg transport.Config, c codec.Codec, connect codec.Frame) (Link, error) {
	if d <= 0 {
		d = fallback.DefaultDeadline
	}
	actx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	conn, err := t.Dial(actx, baseURL, cfg)
	if err != nil {
		return Link{}, timeoutCause(actx, ctx, d, err)
	}
	frames, err := exchange(actx, conn, c, connect)
	if err != nil {
		conn.Close()
		return Link{}, timeoutCause(actx, ctx, d, err)
	}
	return Link{Conn: conn, Transport: t.Name(), Frames: frames}, nil
}

func exchange(ctx context.Context, conn transport.Conn, c codec.Codec, connect codec.Frame) ([]codec.Frame, error) {
	msg, err := c.Encode(nil, connect)
	if err != nil {
		return nil, err
	}
	if err := conn.Send(ctx, msg); err != nil {
		return nil, err
	}
	in, err := conn.Recv(ctx)
	if err != nil {
		return nil, err
	}
	frames, err := c.Decode(nil, in)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoHello, err)
	}
	if len(frames) == 0 || frames[0].Type != codec.TypeHello && frames[0].Type != codec.TypeError {
		return nil, fmt.Errorf("%w: got %d frames, the first %v", ErrNoHello, len(frames), firstType(frames))
	}
	return frames, nil
}

func firstType(fs []codec.Frame) codec.Type {
	if len(fs) == 0 {
		return 0
	}
	return fs[0].Type
}

func timeoutCause(actx, parent context.Context, d time.Duration, err error) error {
	if parent.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (%s): %v", fallback.ErrNoFirstFrame, d, err)
	}
	return err
}

// Unauthorized reports whether err is an authentication refusal, which no
// other transport will fix.
func Unauthorized(err error) bool {
	var he *transport.HandshakeError
	return errors.As(err, &he) && he.Unauthorized()
}

// permanent is implemented by errors that say retrying cannot help.
type permanent interface{ Permanent() bool }

// Permanent reports whether err, or an error it wraps, says of itself that
// no retry can help.
func Permanent(err error) bool {
	var p permanent
	return errors.As(err, &p) && p.Permanent()
}
