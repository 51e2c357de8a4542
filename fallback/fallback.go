// Package fallback chooses the transport a client connects with.
//
// A [Negotiator] tries an explicit, ordered list of transports. A transport
// counts as working only once the server's first protocol frame has arrived
// through it within a deadline: that is what catches a proxy that accepts a
// WebSocket upgrade and then closes it, or one that buffers an event stream.
// A refused handshake (403, 426, …) moves to the next transport at once; an
// authentication refusal (401) ends the negotiation with no fallback. The
// transport that worked is remembered and tried first next time.
package fallback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/realtimekit/realtime/transport"
)

// DefaultDeadline is the time a transport is given to deliver the server's
// first frame when Negotiator.Deadline is zero: 5 s. A refusal answers far
// sooner; the deadline only bounds transports that hang (a buffering proxy).
const DefaultDeadline = 5 * time.Second

// Handshake runs the protocol's opening exchange over a freshly dialled
// connection and returns once the server's first frame has arrived. Its
// result is handed back from Dial untouched.
type Handshake[T any] func(ctx context.Context, conn transport.Conn) (T, error)

// Negotiator tries transports in order. Create one per client; it is safe
// for concurrent use. Transports must not be empty.
type Negotiator struct {
	// Transports is the order to try, best first.
	Transports []transport.Transport
	// Deadline bounds each transport's attempt, from dial to the server's
	// first frame. Zero means DefaultDeadline.
	Deadline time.Duration

	mu     sync.Mutex
	winner string // name of the transport that worked last
}

// Attempt records how one transport fared.
type Attempt struct {
	Transport string
	Err       error         // nil for the one that worked
	Took      time.Duration // from the start of its dial to its result
}

// Error reports a negotiation in which no transport worked.
type Error struct {
	Attempts []Attempt
}

// Error lists every attempt and why it failed.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("fallback: no transport worked")
	for _, a := range e.Attempts {
		fmt.Fprintf(&b, "; %s: %v", a.Transport, a.Err)
	}
	return b.String()
}

// Unwrap returns every attempt's error, so errors.Is and errors.As see them.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, len(e.Attempts))
	for _, a := range e.Attempts {
		errs = append(errs, a.Err)
	}
	return errs
}

// Remembered returns the name of the transport that worked last, or "".
func (n *Negotiator) Remembered() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.winner
}

// Remember makes name the transport tried first next time (a client calls
// it after moving a live session onto a better transport).
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

// Dial connects with the first transport, in Order, that dials and completes
// hs within the deadline. It returns the connection, the transport used,
// hs's result and every attempt made. When none works it returns an
// *Error; when the server refuses authentication it stops at once and the
// error wraps that transport's *transport.HandshakeError (Unauthorized()
// true); when ctx ends it returns ctx's error.
func Dial[T any](ctx context.Context, n *Negotiator, baseURL string, cfg transport.Config, hs Handshake[T]) (transport.Conn, string, T, []Attempt, error) {
	var zero T
	deadline := n.Deadline
	if deadline <= 0 {
		deadline = DefaultDeadline
	}
	var attempts []Attempt
	for _, t := range n.Order() {
		start := time.Now()
		conn, res, err := try(ctx, t, deadline, baseURL, cfg, hs)
		attempts = append(attempts, Attempt{Transport: t.Name(), Err: err, Took: time.Since(start)})
		if err == nil {
			n.Remember(t.Name())
			return conn, t.Name(), res, attempts, nil
		}
		if ctx.Err() != nil {
			return nil, "", zero, attempts, ctx.Err()
		}
		if Unauthorized(err) || Permanent(err) {
			return nil, "", zero, attempts, err
		}
	}
	return nil, "", zero, attempts, &Error{Attempts: attempts}
}

func try[T any](ctx context.Context, t transport.Transport, d time.Duration, baseURL string, cfg transport.Config, hs Handshake[T]) (transport.Conn, T, error) {
	var zero T
	actx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	conn, err := t.Dial(actx, baseURL, cfg)
	if err != nil {
		return nil, zero, timeoutCause(actx, ctx, d, err)
	}
	res, err := hs(actx, conn)
	if err != nil {
		conn.Close()
		return nil, zero, timeoutCause(actx, ctx, d, err)
	}
	return conn, res, nil
}

// ErrNoFirstFrame is wrapped when a transport dialled (or kept dialling) but
// the server's first frame did not arrive within the deadline: the sign of a
// buffering proxy or a black hole.
var ErrNoFirstFrame = errors.New("fallback: no frame from the server within the deadline")

func timeoutCause(actx, parent context.Context, d time.Duration, err error) error {
	if parent.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (%s): %v", ErrNoFirstFrame, d, err)
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
// no retry can help (for example a server error with a permanent code).
func Permanent(err error) bool {
	var p permanent
	return errors.As(err, &p) && p.Permanent()
}
