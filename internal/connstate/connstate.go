// Package connstate holds a client's connection state and lets callers
// wait for it to change. It is the machinery behind realtime.Client's
// State, WaitForState and WaitForStateChange.
package connstate

import (
	"context"
	"sync"
	"time"

	"github.com/realtimekit/realtime/reconnect"
)

// Change is one transition, announced to the application. It is a struct
// so it can grow fields without breaking callers.
type Change struct {
	From, To reconnect.State
	// Reason says why, in words: "connected", "connection lost", "session
	// not resumed", "closed by the application", …
	Reason string
	// Err is the error behind the change, if any.
	Err error
	// Transport is the transport in use once connected ("websocket", "sse",
	// "longpoll"); empty otherwise.
	Transport string
	// Attempt counts the connection attempts of the current outage (0 when
	// connected).
	Attempt int
	// Delay is the wait before the next attempt, when one is scheduled.
	Delay time.Duration
	// ContinuityLost is true when the server did not resume the session:
	// messages the server held for the client may be gone, and publishes that
	// were not acknowledged were failed (or resent, per the client's option).
	ContinuityLost bool
	// At is when the change happened.
	At time.Time
}

// Machine holds a reconnect.State and lets callers wait for changes. The zero Machine
// is Idle and ready to use. It is safe for concurrent use.
type Machine struct {
	mu      sync.Mutex
	state   reconnect.State
	last    Change
	changed chan struct{} // closed and replaced on every change
}

// State returns the current state.
func (m *Machine) State() reconnect.State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// Last returns the most recent change (the zero Change before any).
func (m *Machine) Last() Change {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// Set moves to c.To and returns the completed change (From and At filled
// in). It refuses, returning false, to leave a final state.
func (m *Machine) Set(c Change) (Change, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state.Final() {
		return Change{}, false
	}
	c.From = m.state
	if c.At.IsZero() {
		c.At = time.Now()
	}
	m.state = c.To
	m.last = c
	if m.changed != nil {
		close(m.changed)
		m.changed = nil
	}
	return c, true
}

// WaitForStateChange blocks until the state differs from from, or ctx ends.
// It returns true when the state changed.
func (m *Machine) WaitForStateChange(ctx context.Context, from reconnect.State) bool {
	for {
		m.mu.Lock()
		if m.state != from {
			m.mu.Unlock()
			return true
		}
		if m.changed == nil {
			m.changed = make(chan struct{})
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// WaitFor blocks until the state is one of want, or a final state that is
// not in want is reached, or ctx ends. It returns the state reached; the
// error is ctx's, or nil.
func (m *Machine) WaitFor(ctx context.Context, want ...reconnect.State) (reconnect.State, error) {
	for {
		s := m.State()
		for _, w := range want {
			if s == w {
				return s, nil
			}
		}
		if s.Final() {
			return s, nil
		}
		if !m.WaitForStateChange(ctx, s) {
			return m.State(), ctx.Err()
		}
	}
}
