package engine

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/realtimekit/realtime/internal/connstate"
	"github.com/realtimekit/realtime/internal/negotiate"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/transport"
)

// The connects ceiling: whatever a server or proxy does (accept and then
// fail every link, acknowledge and then drop), the connection loop and the
// upgrade probe together start at most ConnectBurst attempts at once and
// then one per ConnectEvery: at most MaxConnectsPerMinute in any minute.
const (
	ConnectBurst = 20                     // attempts at once
	ConnectEvery = 600 * time.Millisecond // then one per

	// MaxConnectsPerMinute is the most connection attempts (each a
	// negotiation of the connection loop or a dial of the upgrade probe) a
	// Client makes in any minute, whatever its Reconnect policy and
	// whatever the server does: 20 at once, then one each 600 ms.
	MaxConnectsPerMinute = ConnectBurst + int(time.Minute/ConnectEvery)
)

// Bounds of the time a link must stay up, unless the server acknowledged
// something sent on it, to count as having worked: twice the heartbeat,
// within [minHealthy, maxHealthy]. A link that dies younger is a failed
// attempt: the backoff grows and the budget keeps running.
const (
	minHealthy = 5 * time.Second
	maxHealthy = time.Minute
)

func healthyAfter(hb time.Duration) time.Duration {
	return min(max(2*hb, minHealthy), maxHealthy)
}

// outage is the state of the retries since the last link that worked.
type outage struct {
	start    time.Time // when the last working link was lost (or Connect called)
	attempts int       // failed attempts since, young links included
}

// bucket is the token bucket of the connects ceiling. Safe for
// concurrent use.
type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// take takes a token if at least keep remain after it and reports
// whether it did; otherwise it returns how long until one will.
func (b *bucket) take(now time.Time, keep float64) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.tokens, b.last = ConnectBurst, now
	}
	b.tokens = min(ConnectBurst, b.tokens+float64(now.Sub(b.last))/float64(ConnectEvery))
	b.last = now
	if b.tokens >= 1+keep {
		b.tokens--
		return true, 0
	}
	// At least a millisecond: rounding must not turn the wait into a spin.
	return false, max(time.Millisecond, time.Duration((1+keep-b.tokens)*float64(ConnectEvery)))
}

// run is the connection loop: connect, serve until the link breaks, back
// off, repeat, until Close or a permanent error.
func (e *Engine) run() {
	defer e.wg.Done()
	o := outage{start: time.Now()}
	first := true
	for {
		l, err := e.connect(first, &o)
		if err != nil {
			e.fail(err)
			return
		}
		if l == nil { // closed while connecting
			return
		}
		first = false
		worked, err := e.serve(l)
		if e.ctx.Err() != nil {
			return
		}
		var se *ServerError
		if errors.As(err, &se) && se.Permanent() {
			e.fail(err)
			return
		}
		e.mu.Lock()
		e.lastErr = err
		e.count.disconnects++
		e.mu.Unlock()
		if worked {
			o = outage{start: time.Now()}
			e.setState(connstate.Change{To: reconnect.Reconnecting, Reason: "connection lost", Err: err})
			continue
		}
		// It died young: a failed attempt, waited out like any other.
		e.count.young.Add(1)
		if !e.backOff(&o, false, "connection lost soon after connecting", err) {
			return
		}
	}
}

// connect dials with fallback, backoff and the connects ceiling until a
// link is up, Close is called (nil, nil) or a permanent error ends the
// client.
func (e *Engine) connect(first bool, o *outage) (*link, error) {
	if first {
		e.setState(connstate.Change{To: reconnect.Connecting, Reason: "connect called"})
	}
	for {
		if !e.ceiling() {
			return nil, nil
		}
		l, err := e.dialAside()
		if err == nil {
			return l, nil
		}
		if e.ctx.Err() != nil {
			return nil, nil
		}
		e.setErr(err)
		if negotiate.Unauthorized(err) {
			return nil, fmt.Errorf("%w: %w", ErrUnauthorized, err)
		}
		if negotiate.Permanent(err) {
			return nil, err
		}
		if !e.backOff(o, first, "attempt failed", err) {
			return nil, nil
		}
	}
}

// dialAside runs dial on a goroutine of its own and waits for it. A
// handshake goes deep (net/http, TLS, redirects, the codec), and a stack
// grown on the connection loop stays with it for the life of the link: the
// loop parks deep enough in write that the runtime never shrinks it back.
// That was 4 KiB more per idle SSE or long-poll client.
func (e *Engine) dialAside() (l *link, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		l, err = e.dial()
	}()
	<-done
	return l, err
}

// backOff counts a failed attempt, announces it with the wait before the
// next one, and waits. It reports false when Close ended the wait. Once
// the outage outlasts the policy's Budget the state is Suspended and every
// wait is drawn from the policy's largest delay.
func (e *Engine) backOff(o *outage, first bool, reason string, err error) bool {
	o.attempts++
	p := e.cfg.Reconnect
	to, n := reconnect.Reconnecting, o.attempts
	if first {
		to = reconnect.Connecting
	}
	if p.Budget > 0 && time.Since(o.start) > p.Budget {
		to, n = reconnect.Suspended, 1<<20 // Cap(n) is MaxDelay
	}
	d := p.Delay(n)
	if sd := serverDelay(err, p.MaxDelay); sd > 0 {
		d = sd
	}
	e.setState(connstate.Change{To: to, Reason: reason, Err: err, Attempt: o.attempts, Delay: d})
	return e.sleep(d)
}

// ceiling waits for a token of the connects ceiling; false when Close
// ended the wait.
func (e *Engine) ceiling() bool {
	for {
		ok, wait := e.connects.take(time.Now(), 0)
		if ok {
			return true
		}
		if !e.sleep(wait) {
			return false
		}
	}
}

// sleep waits d, or until Close; false when Close came first.
func (e *Engine) sleep(d time.Duration) bool {
	if d <= 0 {
		return e.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-e.ctx.Done():
		return false
	}
}

// serverDelay is the Retry-After a refused handshake carried, capped at ten
// times the policy's largest delay so a confused server cannot park the
// client for a day.
func serverDelay(err error, maxDelay time.Duration) time.Duration {
	var he *transport.HandshakeError
	if !errors.As(err, &he) || he.RetryAfter <= 0 {
		return 0
	}
	return min(he.RetryAfter, 10*maxDelay)
}
