// Package watchdog ends a connection, from a timer, when nothing has been
// received on it for too long or a send on it has waited too long. One
// timer per connection serves both, re-armed for the nearer deadline, so
// that reads and sends need no context of their own (closing the
// connection is what ends them) and a send costs two atomic stores.
package watchdog

import (
	"sync/atomic"
	"time"
)

// Cause says why a Dog ended its connection.
type Cause struct {
	Silent bool          // nothing was received; otherwise a send waited
	For    time.Duration // how long
	Limit  time.Duration // the bound that was passed
}

// Dog watches one connection. Its zero value is idle: Start arms it, Stop
// disarms it for good. Its methods may be called from any goroutine.
type Dog struct {
	idle     time.Duration // 0: silence is not watched
	end      func(Cause)
	t        atomic.Pointer[time.Timer] // set before it can fire
	base     time.Time                  // the times below are since base, plus 1
	lastRecv atomic.Int64               // now() of the last receipt
	sending  atomic.Int64               // now() when the send under way began; 0 if none
	limit    atomic.Int64               // the bound of a send, a Duration
	stopped  atomic.Bool
	ended    atomic.Bool
}

// Start arms d: end is called once, on the timer's goroutine, when nothing
// has been received for idle (0: never) or a send has waited for send.
// The connection counts as heard from at Start.
func (d *Dog) Start(idle, send time.Duration, end func(Cause)) {
	d.idle, d.end, d.base = idle, end, time.Now()
	d.limit.Store(int64(send))
	d.lastRecv.Store(d.now())
	first := send
	if idle > 0 {
		first = min(first, idle)
	}
	t := time.AfterFunc(time.Hour, d.check)
	d.t.Store(t)
	t.Reset(first)
}

// now is monotonic time since Start, never 0 (which means "no send").
func (d *Dog) now() int64 { return int64(time.Since(d.base)) + 1 }

// Received records that something arrived.
func (d *Dog) Received() { d.lastRecv.Store(d.now()) }

// Sending records that a send begins; Sent that it is over.
func (d *Dog) Sending() { d.sending.Store(d.now()) }

// Sent records that the send under way is over.
func (d *Dog) Sent() { d.sending.Store(0) }

// Shorten bounds sends, the one under way included, by send from now on,
// when that is less than the current bound: a connection being closed
// gives a stuck send less time.
func (d *Dog) Shorten(send time.Duration) {
	if int64(send) >= d.limit.Load() {
		return
	}
	d.limit.Store(int64(send))
	if t := d.t.Load(); t != nil && !d.stopped.Load() {
		t.Reset(send)
	}
}

// Stop disarms d; end is not called afterwards, except by a check already
// under way.
func (d *Dog) Stop() {
	d.stopped.Store(true)
	if t := d.t.Load(); t != nil {
		t.Stop()
	}
}

func (d *Dog) check() {
	if d.stopped.Load() || d.ended.Load() {
		return
	}
	n := d.now()
	limit := time.Duration(d.limit.Load())
	next := limit
	if s := d.sending.Load(); s != 0 {
		waited := time.Duration(n - s)
		if waited >= limit {
			d.fire(Cause{For: waited, Limit: limit})
			return
		}
		next = limit - waited
	}
	if d.idle > 0 {
		quiet := time.Duration(n - d.lastRecv.Load())
		if quiet >= d.idle {
			d.fire(Cause{Silent: true, For: quiet, Limit: d.idle})
			return
		}
		next = min(next, d.idle-quiet)
	}
	d.t.Load().Reset(next)
}

func (d *Dog) fire(c Cause) {
	if d.ended.CompareAndSwap(false, true) {
		d.end(c)
	}
}
