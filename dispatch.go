package realtime

import (
	"sync"

	"github.com/realtimekit/realtime/internal/connstate"
)

// maxQueuedEvents bounds the state changes waiting for a slow handler:
// beyond it the goroutine announcing a change (the connection loop) waits
// for the dispatcher, so no change is ever dropped. Messages are bounded by
// the protocol window and by dropStale.
const maxQueuedEvents = 256

// item is a message to deliver or a state change to announce.
type item struct {
	msg    Message
	epoch  uint64
	change *connstate.Change
}

// dispatcher runs user code, one call at a time in arrival order, on its
// own goroutine: never on a reader, never under the client's lock. The
// goroutine exists only while something is queued, so an idle client pays
// for no stack here.
type dispatcher struct {
	c       *Client
	mu      sync.Mutex
	q       []item
	head    int
	events  int
	room    chan struct{} // closed (and replaced) when a queued change is taken
	msgs    int           // messages queued
	bytes   int           // their payload bytes
	stale   uint64        // messages of lost sessions dropped unhandled
	running bool          // a goroutine is draining q
	stopped bool
	done    chan struct{}
	wg      sync.WaitGroup
}

func newDispatcher(c *Client) *dispatcher {
	return &dispatcher{c: c, done: make(chan struct{}), room: make(chan struct{})}
}

// deliver queues a message. The session's window bounds how many of the
// current session wait; dropStale removes those of lost sessions.
func (d *dispatcher) deliver(epoch uint64, m Message) {
	d.mu.Lock()
	d.msgs++
	d.bytes += len(m.Data)
	d.pushLocked(item{msg: m, epoch: epoch})
	d.mu.Unlock()
}

// dropStale removes the queued messages of sessions before epoch: the
// server started a new session, so they can no longer be acknowledged, and
// keeping them would let a server that floods and loses sessions grow the
// queue without bound. They are counted in Stats.DroppedStale; the loss is
// announced by the StateChange with ContinuityLost that follows them.
func (d *dispatcher) dropStale(epoch uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	kept := d.q[:d.head]
	for _, it := range d.q[d.head:] {
		if it.change == nil && it.epoch < epoch {
			d.msgs--
			d.bytes -= len(it.msg.Data)
			d.stale++
			continue
		}
		kept = append(kept, it)
	}
	clear(d.q[len(kept):])
	d.q = kept
}

// freeLocked wakes the producers waiting for room. d.mu is held.
func (d *dispatcher) freeLocked() {
	close(d.room)
	d.room = make(chan struct{})
}

// inbox returns the messages queued, their bytes and the stale ones
// dropped so far.
func (d *dispatcher) inbox() (n, bytes int, stale uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.msgs, d.bytes, d.stale
}

// event queues a state change. When a slow OnStateChange has let
// maxQueuedEvents pile up, it waits for the dispatcher to take one (or for
// stop): changes are never dropped.
func (d *dispatcher) event(ch connstate.Change) {
	if d.c.opts.OnStateChange == nil {
		return
	}
	d.mu.Lock()
	for d.events >= maxQueuedEvents && !d.stopped {
		room := d.room
		d.mu.Unlock()
		<-room // a channel, not a sync.Cond: a wait testing/synctest can see
		d.mu.Lock()
	}
	d.events++
	d.pushLocked(item{change: &ch})
	d.mu.Unlock()
}

func (d *dispatcher) push(it item) {
	d.mu.Lock()
	d.pushLocked(it)
	d.mu.Unlock()
}

// pushLocked queues it and starts the goroutine if none runs. Once stopped,
// items only wait for takeChanges.
func (d *dispatcher) pushLocked(it item) {
	d.q = append(d.q, it)
	if !d.running && !d.stopped {
		d.running = true
		d.wg.Add(1)
		go d.run()
	}
}

// pop takes the next item; when there is none it ends the goroutine's
// turn (running = false) in the same step, so a push either sees it
// running or starts another.
func (d *dispatcher) pop() (item, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.head == len(d.q) {
		d.q, d.head = d.q[:0], 0
		d.running = false
		return item{}, false
	}
	it := d.q[d.head]
	d.q[d.head] = item{}
	d.head++
	if it.change != nil {
		d.events--
		d.freeLocked()
	} else {
		d.msgs--
		d.bytes -= len(it.msg.Data)
	}
	// Reuse the backing array once the consumed prefix dominates it.
	if d.head > 1024 && d.head*2 > len(d.q) {
		n := copy(d.q, d.q[d.head:])
		clear(d.q[n:])
		d.q, d.head = d.q[:n], 0
	}
	return it, true
}

func (d *dispatcher) run() {
	defer d.wg.Done()
	for {
		// Checked before taking an item, so nothing taken is ever put
		// back; what is left waits for takeChanges.
		select {
		case <-d.done:
			return
		default:
		}
		it, ok := d.pop()
		if !ok {
			return
		}
		if it.change != nil {
			d.c.opts.OnStateChange(StateChange(*it.change))
			continue
		}
		h := d.c.handler(it.msg.Channel)
		if h != nil {
			h(it.msg)
		}
		d.c.processed(it.epoch, it.msg.Seq, h != nil)
	}
}

// takeChanges removes and returns the state changes still queued, in
// order, dropping queued messages (unacknowledged, so a resumed session
// would get them again). Only for use after stop.
func (d *dispatcher) takeChanges() []connstate.Change {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []connstate.Change
	for _, it := range d.q[d.head:] {
		if it.change != nil {
			out = append(out, *it.change)
		}
	}
	d.q, d.head, d.events, d.msgs, d.bytes = nil, 0, 0, 0, 0
	return out
}

// stop ends the goroutine after the call it is making, if any, and waits
// for it; nothing starts one afterwards. It must not be called from a
// handler.
func (d *dispatcher) stop() {
	d.mu.Lock()
	first := !d.stopped
	d.stopped = true
	d.freeLocked() // a producer waiting for room queues and returns
	d.mu.Unlock()
	if first {
		close(d.done)
	}
	d.wg.Wait()
}
