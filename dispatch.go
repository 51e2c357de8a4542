package realtime

import (
	"sync"

	"github.com/realtimekit/realtime/reconnect"
)

// maxQueuedEvents bounds the state changes waiting for a slow handler; the
// oldest are dropped beyond it (messages are bounded by the protocol window).
const maxQueuedEvents = 256

// item is a message to deliver or a state change to announce.
type item struct {
	msg    Message
	epoch  uint64
	change *reconnect.Change
}

// dispatcher runs user code, one call at a time in arrival order, on its
// own goroutine: never on a reader, never under the client's lock.
type dispatcher struct {
	c      *Client
	mu     sync.Mutex
	q      []item
	head   int
	events int
	kick   chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newDispatcher(c *Client) *dispatcher {
	return &dispatcher{c: c, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// deliver queues a message. The session's window bounds how many wait.
func (d *dispatcher) deliver(epoch uint64, m Message) {
	d.push(item{msg: m, epoch: epoch})
}

// event queues a state change, dropping the oldest queued change when a
// slow handler has let maxQueuedEvents pile up.
func (d *dispatcher) event(ch reconnect.Change) {
	if d.c.opts.OnStateChange == nil {
		return
	}
	d.mu.Lock()
	if d.events >= maxQueuedEvents {
		for i := d.head; i < len(d.q); i++ {
			if d.q[i].change != nil {
				d.q = append(d.q[:i], d.q[i+1:]...)
				d.events--
				break
			}
		}
	}
	d.events++
	d.mu.Unlock()
	d.push(item{change: &ch})
}

func (d *dispatcher) push(it item) {
	d.mu.Lock()
	d.q = append(d.q, it)
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *dispatcher) pop() (item, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.head == len(d.q) {
		d.q, d.head = d.q[:0], 0
		return item{}, false
	}
	it := d.q[d.head]
	d.q[d.head] = item{}
	d.head++
	if it.change != nil {
		d.events--
	}
	// Reuse the backing array once the consumed prefix dominates it.
	if d.head > 1024 && d.head*2 > len(d.q) {
		n := copy(d.q, d.q[d.head:])
		clear(d.q[n:])
		d.q, d.head = d.q[:n], 0
	}
	return it, true
}

func (d *dispatcher) run(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		it, ok := d.pop()
		if !ok {
			select {
			case <-d.kick:
				continue
			case <-d.done:
				d.drain()
				return
			}
		}
		select {
		case <-d.done:
			d.push(it)
			d.drain()
			return
		default:
		}
		if it.change != nil {
			d.c.opts.OnStateChange(*it.change)
			continue
		}
		h := d.c.handler(it.msg.Channel)
		if h != nil {
			h(it.msg)
		}
		d.c.processed(it.epoch, it.msg.Seq, h != nil)
	}
}

// drain announces the state changes still queued; the messages are
// dropped (unacknowledged, so a resumed session would get them again).
func (d *dispatcher) drain() {
	for {
		it, ok := d.pop()
		if !ok {
			return
		}
		if it.change != nil {
			d.c.opts.OnStateChange(*it.change)
		}
	}
}

// takeChanges removes and returns the state changes still queued, in
// order, dropping queued messages as drain does. Only for use once run has
// returned.
func (d *dispatcher) takeChanges() []reconnect.Change {
	var out []reconnect.Change
	for {
		it, ok := d.pop()
		if !ok {
			return out
		}
		if it.change != nil {
			out = append(out, *it.change)
		}
	}
}

// stop ends run; queued state changes are still announced, messages are not.
func (d *dispatcher) stop() { d.once.Do(func() { close(d.done) }) }
