package engine

import (
	"errors"
	"fmt"

	"github.com/realtimekit/realtime/internal/session"
)

// The engine's errors. Package realtime exports the sentinels as they are
// and maps the types onto its own (see realtime.publicErr).
var (
	ErrClosed          = errors.New("realtime: client closed")
	ErrOutboxFull      = fmt.Errorf("realtime: %w", session.ErrOutboxFull)
	ErrSessionLost     = fmt.Errorf("realtime: %w", session.ErrSessionLost)
	ErrMessageTooLarge = errors.New("realtime: message too large")
	ErrUnauthorized    = errors.New("realtime: unauthorized")
	ErrLinkDead        = errors.New("realtime: connection dead")
	ErrProtocol        = errors.New("realtime: protocol violation")
	ErrRefused         = errors.New("realtime: refused by the server")
	ErrDraining        = errors.New("realtime: client draining")
)

// RefusedError is the server's nack of one operation.
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

// ServerError is an error frame from the server.
type ServerError struct {
	Code   uint16
	Reason string
}

// Error gives the server's code and reason.
func (e *ServerError) Error() string {
	return fmt.Sprintf("realtime: server error %d: %s", e.Code, e.Reason)
}

// Permanent reports whether reconnecting cannot help (codes 4000–4499).
func (e *ServerError) Permanent() bool { return PermanentCode(e.Code) }

// Unwrap returns ErrUnauthorized for code 4001, nil otherwise.
func (e *ServerError) Unwrap() error {
	if e.Code == 4001 {
		return ErrUnauthorized
	}
	return nil
}

// ProtocolError reports a server that broke the protocol.
type ProtocolError struct {
	Reason string
	Err    error
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

// PermanentCode reports whether a server code says retrying cannot help.
func PermanentCode(c uint16) bool { return c >= 4000 && c < 4500 }

// engineErr is MapSession.
func engineErr(err error) error { return MapSession(err) }

// MapSession maps the session's errors (an operation's, say) onto the engine's.
func MapSession(err error) error {
	var re *session.RefusedError
	var pe *session.ProtocolError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		return &RefusedError{Code: re.Code, Reason: re.Reason}
	case errors.As(err, &pe):
		return &ProtocolError{Reason: pe.Reason}
	case errors.Is(err, session.ErrSessionLost):
		return ErrSessionLost
	case errors.Is(err, session.ErrOutboxFull):
		return ErrOutboxFull
	}
	return err
}
