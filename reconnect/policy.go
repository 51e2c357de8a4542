// Package reconnect decides when a client tries again and tracks the state
// of its connection.
//
// A [Policy] is exponential backoff with full jitter; it serves the first
// connect and every reconnect. [State] is the explicit state of a client's
// connection.
package reconnect

import (
	"math"
	"math/rand/v2"
	"time"
)

// Policy defaults, used for the zero fields of a Policy.
const (
	DefaultBaseDelay  = 250 * time.Millisecond
	DefaultMultiplier = 2.0
	DefaultMaxDelay   = 30 * time.Second
)

// Policy is exponential backoff with full jitter: before retry n (n ≥ 1)
// it waits a uniformly random time in [0, min(MaxDelay, BaseDelay ×
// Multiplier^(n-1))]. Full jitter spreads a fleet of clients that lost the
// same server, so they do not return in one wave.
//
// The zero value is usable: every zero field takes its default.
type Policy struct {
	// BaseDelay caps the first wait. Default 250 ms.
	BaseDelay time.Duration
	// Multiplier grows the cap after each failed attempt. Default 2; values
	// below 1 are taken as 1.
	Multiplier float64
	// MaxDelay is the largest cap. Default 30 s.
	MaxDelay time.Duration
	// Budget, if positive, is how long one outage may last before the
	// client stops retrying quickly and reports itself suspended. An outage
	// runs from the loss of a link that worked until a link works again:
	// links that die young (see realtime.Stats.DiedYoung) do not end it.
	// Zero means no budget: retry for ever.
	Budget time.Duration
	// Rand returns a number in [0, 1); tests set it to make jitter
	// repeatable. Nil means math/rand/v2.
	Rand func() float64
}

// WithDefaults returns p with every zero field set to its default.
func (p Policy) WithDefaults() Policy {
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.Multiplier == 0 {
		p.Multiplier = DefaultMultiplier
	}
	if p.Multiplier < 1 {
		p.Multiplier = 1
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = p.BaseDelay
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	return p
}

// Cap returns the largest delay before retry n (n ≥ 1), before jitter.
func (p Policy) Cap(n int) time.Duration {
	p = p.WithDefaults()
	if n < 1 {
		n = 1
	}
	c := float64(p.BaseDelay) * math.Pow(p.Multiplier, float64(n-1))
	if c > float64(p.MaxDelay) || math.IsInf(c, 0) || math.IsNaN(c) {
		return p.MaxDelay
	}
	return time.Duration(c)
}

// Delay returns the wait before retry n (n ≥ 1): a random duration in
// [0, Cap(n)].
func (p Policy) Delay(n int) time.Duration {
	p = p.WithDefaults()
	return time.Duration(p.Rand() * float64(p.Cap(n)))
}
