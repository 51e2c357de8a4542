package reconnect

import "fmt"

// State is where a client's connection stands. The zero State is Idle.
type State int32

// The states, in the order a client usually meets them.
const (
	// Idle: created, Connect not called yet. No I/O has happened.
	Idle State = iota
	// Connecting: the first connection is being established.
	Connecting
	// Connected: a transport is up and the session handshake is done.
	Connected
	// Reconnecting: the connection was lost; the client is waiting out a
	// backoff delay or dialling again.
	Reconnecting
	// Suspended: an outage outlasted the policy's budget. The client keeps
	// trying, each wait drawn (with full jitter) from the policy's MaxDelay,
	// and never more often than the client's connects ceiling allows;
	// publishes still queue in the outbox. A link that dies soon after
	// connecting does not end an outage.
	Suspended
	// Closed: Close was called. Final.
	Closed
	// Failed: a permanent error (authentication refused, protocol version
	// not supported, …) ended the client. Final.
	Failed
)

var stateNames = [...]string{"idle", "connecting", "connected", "reconnecting", "suspended", "closed", "failed"}

// String returns the state's lower-case name, such as "connected".
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// Final reports whether no transition leaves s.
func (s State) Final() bool { return s == Closed || s == Failed }
