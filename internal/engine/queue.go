package engine

import (
	"sync"

	"github.com/realtimekit/realtime/internal/connstate"
)

// maxQueuedEvents bounds the state changes waiting for a slow consumer:
// beyond it the goroutine announcing a change (the connection loop) waits
// for the dispatcher, so no change is ever dropped. Messages are bounded by
// the protocol window and by dropStale.
const maxQueuedEvents = 256

// Message is a message delivered on a subscribed channel.
type Message struct {
	Channel string
	Data    []byte
	Seq     uint64 // in its session
	Epoch   uint64 // the session's; hand it back to Processed
	// Redelivered: the process before this one may have run its handler
	// (it came back from a store, see Options.Store).
	Redelivered bool
	Time        uint64 // the server's timestamp, Unix ms; 0: none
	From        string // the publisher's identity; "": none
	Header      map[string]string
}

// Item is what the queue hands up: a message to deliver or a state change
// to announce (Change set).
type Item struct {
	Msg    Message
	Change *connstate.Change
}

// Queue is the one bounded, one-way queue from the engine up to the
// façade's dispatcher: deliveries and state changes, in the order they
// happened. Its consumer (given to New) runs one item at a time, in order,
// on a goroutine of the queue's own: never on a reader, never under the
// engine's lock. The goroutine exists only while something is queued, so an
// idle client pays for no stack here. The window bounds the messages;
// maxQueuedEvents bounds the changes, by making the producer wait.
type Queue struct {
	consume func(Item)
	changes bool // state changes are queued only when someone listens
	mu      sync.Mutex
	q       []Item
	head    int
	events  int
	room    chan struct{} // made by a producer that waits; closed when a queued change is taken
	msgs    int           // messages queued
	bytes   int           // their payload bytes
	stale   uint64        // messages of lost sessions dropped unhandled
	running bool          // a goroutine is draining q
	busy    bool          // the goroutine is consuming the item pop gave it
	stopped bool
	pushed  uint64 // items queued ever
	// finished counts the items consumed or dropped; settle waits for it
	// to reach pushed, woken through settled (made by a waiter).
	finished uint64
	settled  chan struct{}
	wg       sync.WaitGroup
}

func newQueue(consume func(Item), changes bool) *Queue {
	// No channel is made here: most clients never wait for room, and an
	// idle client pays for every allocation that stays.
	return &Queue{consume: consume, changes: changes}
}

// deliver queues a message. The session's window bounds how many of the
// current session wait; dropStale removes those of lost sessions.
func (d *Queue) deliver(m Message) {
	d.mu.Lock()
	d.msgs++
	d.bytes += len(m.Data)
	d.pushLocked(Item{Msg: m})
	d.mu.Unlock()
}

// dropStale removes the queued messages of sessions before epoch: the
// server started a new session, so they can no longer be acknowledged, and
// keeping them would let a server that floods and loses sessions grow the
// queue without bound. They are counted in Stats.DroppedStale; the loss is
// announced by the StateChange with ContinuityLost that follows them.
func (d *Queue) dropStale(epoch uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	kept := d.q[:d.head]
	for _, it := range d.q[d.head:] {
		if it.Change == nil && it.Msg.Epoch < epoch {
			d.msgs--
			d.bytes -= len(it.Msg.Data)
			d.stale++
			d.progressLocked(1)
			continue
		}
		kept = append(kept, it)
	}
	clear(d.q[len(kept):])
	d.q = kept
}

// freeLocked wakes the producers waiting for room, if any. d.mu is held.
func (d *Queue) freeLocked() {
	if d.room != nil {
		close(d.room)
		d.room = nil
	}
}

// inbox returns the messages queued, their bytes and the stale ones
// dropped so far.
func (d *Queue) inbox() (n, bytes int, stale uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.msgs, d.bytes, d.stale
}

// event queues a state change. When a slow OnStateChange has let
// maxQueuedEvents pile up, it waits for the dispatcher to take one (or for
// stop): changes are never dropped.
func (d *Queue) event(ch connstate.Change) {
	if !d.changes {
		return
	}
	d.mu.Lock()
	for d.events >= maxQueuedEvents && !d.stopped {
		if d.room == nil {
			d.room = make(chan struct{})
		}
		room := d.room
		d.mu.Unlock()
		<-room // a channel, not a sync.Cond: a wait testing/synctest can see
		d.mu.Lock()
	}
	d.events++
	d.pushLocked(Item{Change: &ch})
	d.mu.Unlock()
}

// pushLocked queues it and starts the goroutine if none runs. Once stopped,
// items only wait for takeChanges.
func (d *Queue) pushLocked(it Item) {
	d.q = append(d.q, it)
	d.pushed++
	if !d.running && !d.stopped {
		d.running = true
		d.wg.Add(1)
		go d.run()
	}
}

// pop takes the next item; when there is none it ends the goroutine's
// turn (running = false) in the same step, so a push either sees it
// running or starts another.
func (d *Queue) pop() (Item, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy { // the item taken last has been consumed
		d.busy = false
		d.progressLocked(1)
	}
	if d.stopped { // what is left waits for takeChanges
		return Item{}, false
	}
	if d.head == len(d.q) {
		d.q, d.head = d.q[:0], 0
		d.running = false
		return Item{}, false
	}
	it := d.q[d.head]
	d.q[d.head] = Item{}
	d.head++
	d.busy = true
	if it.Change != nil {
		d.events--
		d.freeLocked()
	} else {
		d.msgs--
		d.bytes -= len(it.Msg.Data)
	}
	// Reuse the backing array once the consumed prefix dominates it.
	if d.head > 1024 && d.head*2 > len(d.q) {
		n := copy(d.q, d.q[d.head:])
		clear(d.q[n:])
		d.q, d.head = d.q[:n], 0
	}
	return it, true
}

func (d *Queue) run() {
	defer d.wg.Done()
	for {
		// pop checks stop before taking an item, so nothing taken is
		// ever put back.
		it, ok := d.pop()
		if !ok {
			return
		}
		d.consume(it)
	}
}

// takeChanges removes and returns the state changes still queued, in
// order, dropping queued messages (unacknowledged, so a resumed session
// would get them again). Only for use after stop.
func (d *Queue) takeChanges() []connstate.Change {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []connstate.Change
	for _, it := range d.q[d.head:] {
		if it.Change != nil {
			out = append(out, *it.Change)
		}
	}
	d.q, d.head, d.events, d.msgs, d.bytes = nil, 0, 0, 0, 0
	d.progressLocked(int(d.pushed - d.finished))
	return out
}

// stop ends the goroutine after the call it is making, if any, and waits
// for it; nothing starts one afterwards. It must not be called from a
// handler.
func (d *Queue) stop() {
	d.mu.Lock()
	d.stopped = true
	d.freeLocked() // a producer waiting for room queues and returns
	d.progressLocked(0)
	d.mu.Unlock()
	d.wg.Wait()
}
