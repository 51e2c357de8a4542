// Package fallback describes how a client chose its transport: the
// attempts of one negotiation ([Attempt], see realtime.Client.Attempts)
// and the error when none worked ([Error]).
//
// The client tries its transports (realtime.Options.Transports) in order.
// A transport counts as working only once the server's first protocol
// message has arrived through it within a deadline: that is what catches a
// proxy that accepts a WebSocket upgrade and then closes it, or one that
// buffers an event stream. A refused handshake (403, 426, …) moves to the
// next transport at once; an authentication refusal (401) ends the
// negotiation with no fallback. The transport that worked is remembered
// and tried first next time.
package fallback

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultDeadline is the time a transport is given to deliver the server's
// first frame when none is configured (realtime.Options.HandshakeTimeout
// defaults to it): 5 s. A refusal answers far
// sooner; the deadline only bounds transports that hang (a buffering proxy).
const DefaultDeadline = 5 * time.Second

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

// ErrNoFirstFrame is wrapped when a transport dialled (or kept dialling) but
// the server's first frame did not arrive within the deadline: the sign of a
// buffering proxy or a black hole.
var ErrNoFirstFrame = errors.New("fallback: no frame from the server within the deadline")
