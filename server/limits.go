package server

import (
	"net/http"
	"time"
)

// Bounds on what a stranger can create, beyond sessions and
// subscriptions (see Config).

// admit is Check's early refusal of a handshake that a bound would refuse
// once accepted anyway: cheaper for both sides, and it carries
// Retry-After. accept still enforces the bounds exactly.
func (srv *Server) admit(r *http.Request, id string) int {
	srv.mu.Lock()
	pending := srv.pending >= srv.cfg.MaxPending
	perID := id != "" && srv.perID[id] >= srv.cfg.MaxConnsPerIdentity
	srv.mu.Unlock()
	status := 0
	switch {
	case pending:
		status = http.StatusServiceUnavailable
	case perID:
		status = http.StatusTooManyRequests
	default:
		return 0
	}
	if w := handshakeOf(r).w; w != nil {
		w.Header().Set("Retry-After", "1")
	}
	return status
}

// enter counts a new connection as pending and under its identity, or
// returns the refusal, without counting it, when that would pass a bound.
func (srv *Server) enter(c *conn) *Refusal {
	id := c.client.Identity.ID
	srv.mu.Lock()
	defer srv.mu.Unlock()
	switch {
	case srv.pending >= srv.cfg.MaxPending:
		return &Refusal{Code: 4529, Reason: "too many connections awaiting connect, try later"}
	case id != "" && srv.perID[id] >= srv.cfg.MaxConnsPerIdentity:
		return &Refusal{Code: 4529, Reason: "too many connections for this identity"}
	}
	srv.pending++
	if id != "" {
		srv.perID[id]++
	}
	c.pending, c.counted = true, true
	return nil
}

// connected ends the pending count of a connection, once.
func (srv *Server) connected(c *conn) {
	if c.pending {
		c.pending = false
		srv.mu.Lock()
		srv.pending--
		srv.mu.Unlock()
	}
}

// leave uncounts a connection that enter counted.
func (srv *Server) leave(c *conn) {
	srv.connected(c)
	id := c.client.Identity.ID
	if !c.counted || id == "" {
		return
	}
	srv.mu.Lock()
	if srv.perID[id]--; srv.perID[id] <= 0 {
		delete(srv.perID, id)
	}
	srv.mu.Unlock()
}

// bucket is a session's publish token bucket, used under session.proc.
type bucket struct {
	tokens float64
	last   time.Time
}

// take reports whether a publish may go now, and takes its token.
func (b *bucket) take(now time.Time, rate float64, burst int) bool {
	if rate < 0 {
		return true
	}
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else {
		b.tokens = min(float64(burst), b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
