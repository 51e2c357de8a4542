package realtime

import (
	"errors"
	"fmt"

	"github.com/realtimekit/realtime/internal/engine"
)

// ErrClosed is returned by every call on a Client after Close, including a
// second Close.
var ErrClosed = engine.ErrClosed

// ErrOutboxFull is returned by Publish when the outbox already holds
// Options.OutboxCount messages or Options.OutboxBytes bytes.
var ErrOutboxFull = engine.ErrOutboxFull

// ErrSessionLost fails a publish that was sent but not acknowledged when the
// server did not resume the session (it expired, or the server restarted):
// the server may or may not have processed it. Options.ResendOnSessionLoss
// resends such publishes instead.
var ErrSessionLost = engine.ErrSessionLost

// ErrMessageTooLarge is returned at once by Publish and PublishAsync, and
// nothing is queued, for a message whose encoding by the configured codec
// would exceed the size limit: Options.MaxMessageSize, or a shipped codec's
// own MaxSize when that is smaller. It also fails the Receipt of a publish
// that a codec refused to encode later, in the writer (the link goes on).
var ErrMessageTooLarge = engine.ErrMessageTooLarge

// ErrUnauthorized is wrapped by the error of a client that failed because
// the server refused its credentials. No transport fallback or retry
// follows it.
var ErrUnauthorized = engine.ErrUnauthorized

// ErrLinkDead is wrapped by the error of a connection the client gave up
// because the server sent nothing for heartbeat + grace (a dead or
// half-open connection), did not take a send for as long (a server that
// stopped reading), or acknowledged nothing of what was sent on it for
// twice as long (a server that pings but does not process). It is the Err
// of the StateChange to reconnecting; the client reconnects by itself.
var ErrLinkDead = engine.ErrLinkDead

// ErrProtocol is wrapped by every *ProtocolError.
var ErrProtocol = engine.ErrProtocol

// ErrRefused is wrapped by every *RefusedError.
var ErrRefused = engine.ErrRefused

// RefusedError is the server's refusal (nack) of one publish, subscribe or
// unsubscribe, with the server's code and reason (docs/PROTOCOL.md §8).
type RefusedError struct {
	Code   uint16
	Reason string
}

// Error gives the refusal with its code.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("realtime: refused by the server: %s (code %d)", e.Reason, e.Code)
}

// Unwrap returns ErrRefused.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Temporary reports whether the same request may succeed later (codes
// 4500–4999 and 5000 and up).
func (e *RefusedError) Temporary() bool { return !permanentCode(e.Code) }

// ServerError is an error frame from the server: it refused or ended the
// connection with a code and reason.
type ServerError struct {
	Code   uint16
	Reason string
}

// Error gives the server's code and reason.
func (e *ServerError) Error() string {
	return fmt.Sprintf("realtime: server error %d: %s", e.Code, e.Reason)
}

// Permanent reports whether reconnecting cannot help (codes 4000–4499).
func (e *ServerError) Permanent() bool { return permanentCode(e.Code) }

// Unwrap returns ErrUnauthorized for code 4001, nil otherwise.
func (e *ServerError) Unwrap() error {
	if e.Code == 4001 {
		return ErrUnauthorized
	}
	return nil
}

// ProtocolError reports a server that broke the protocol: a malformed,
// oversized or unknown frame, a sequence number that goes backwards or
// skips, an acknowledgement of something never sent. The client drops the
// connection and resumes, which repairs what a lost or garbled frame broke.
type ProtocolError struct {
	Reason string
	Err    error // the decoding or transport error behind it, if any
}

// Error says how the server broke the protocol.
func (e *ProtocolError) Error() string {
	if e.Err != nil {
		return "realtime: protocol violation: " + e.Reason + ": " + e.Err.Error()
	}
	return "realtime: protocol violation: " + e.Reason
}

// Unwrap returns ErrProtocol and the cause.
func (e *ProtocolError) Unwrap() []error { return []error{ErrProtocol, e.Err} }

func permanentCode(c uint16) bool { return engine.PermanentCode(c) }

// publicErr maps the engine's errors onto the package's. The sentinels
// are the engine's own values; the error types are mapped where they
// stand, or wrapped so that errors.As finds the package's type while the
// message and the rest of the chain stay.
func publicErr(err error) error {
	var re *engine.RefusedError
	var se *engine.ServerError
	var pe *engine.ProtocolError
	var pub error
	err = engine.MapSession(err)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		pub = &RefusedError{Code: re.Code, Reason: re.Reason}
	case errors.As(err, &se):
		pub = &ServerError{Code: se.Code, Reason: se.Reason}
	case errors.As(err, &pe):
		pub = &ProtocolError{Reason: pe.Reason, Err: pe.Err}
	default:
		return err
	}
	if err == error(re) || err == error(se) || err == error(pe) {
		return pub
	}
	return mapped{err: err, pub: pub}
}

// mapped is an engine error whose chain holds an engine type: it reads as
// the original and unwraps to the package's type as well.
type mapped struct{ err, pub error }

func (m mapped) Error() string   { return m.err.Error() }
func (m mapped) Unwrap() []error { return []error{m.pub, m.err} }

// StoreError is an error of Options.Store: New returns one when the store
// cannot be loaded, and PublishAsync when the publish could not be
// recorded (it was not accepted). Err is the store's error; a
// filestore.OpenError says how to set a store that cannot be opened aside.
type StoreError = engine.StoreError

// RestoreWait bounds how long a message of a session restored from
// Options.Store waits for the new process to subscribe its channel again:
// 10 s. Past it, the channel's messages are dropped as unsubscribed.
const RestoreWait = engine.RestoreWait
