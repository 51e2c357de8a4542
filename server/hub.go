package server

import (
	"context"
	"sync"
)

// hub is the node-local fan-out: it holds one Broker subscription per
// channel that at least one session of this Server subscribes to, and
// hands each delivery to those sessions, in the broker's order. A session
// too slow to take it ends itself (4503) inside the delivery, as before;
// its subscriptions are released by the janitor.
type hub struct {
	b     Broker
	mu    sync.Mutex
	chans map[string]*hubChan
}

// hubChan is one channel's subscribers. Lock order: op, then mu, then
// session.mu. Deliveries take mu only, so the broker's Unsubscribe, which
// may wait for a delivery in progress, is called under op alone.
type hubChan struct {
	op   sync.Mutex // serialises the broker's Subscribe and Unsubscribe
	live bool       // the broker subscription is in force; guarded by op
	refs int        // sessions subscribed plus operations under way; guarded by hub.mu

	mu   sync.Mutex
	subs map[*session]struct{}
}

func newHub(b Broker) *hub { return &hub{b: b, chans: make(map[string]*hubChan)} }

// acquire returns channel's entry, created if need be, with one more ref.
func (h *hub) acquire(channel string) *hubChan {
	h.mu.Lock()
	defer h.mu.Unlock()
	hc := h.chans[channel]
	if hc == nil {
		hc = &hubChan{subs: make(map[*session]struct{})}
		h.chans[channel] = hc
	}
	hc.refs++
	return hc
}

// release drops refs refs of hc, forgetting it once nothing holds it and
// its broker subscription has ended.
func (h *hub) release(channel string, hc *hubChan, refs int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	hc.refs -= refs
	if hc.refs == 0 && h.chans[channel] == hc {
		hc.op.Lock() // uncontended: every holder has released it
		live := hc.live
		hc.op.Unlock()
		if !live {
			delete(h.chans, channel)
		}
	}
}

// subscribe adds s to channel, subscribing this node to the broker first
// if it is the first session to want it.
func (h *hub) subscribe(ctx context.Context, channel string, s *session) error {
	hc := h.acquire(channel)
	hc.op.Lock()
	if !hc.live {
		deliver := func(m Message) { hc.fanout(m) }
		if err := h.b.Subscribe(ctx, channel, deliver); err != nil {
			hc.op.Unlock()
			h.release(channel, hc, 1)
			return err
		}
		hc.live = true
	}
	hc.mu.Lock()
	_, dup := hc.subs[s]
	hc.subs[s] = struct{}{}
	hc.mu.Unlock()
	hc.op.Unlock()
	if dup {
		h.release(channel, hc, 1)
	}
	return nil // the ref stays with s
}

// unsubscribe removes s from channel, and this node from the broker's
// subscribers once no session wants it.
func (h *hub) unsubscribe(ctx context.Context, channel string, s *session) error {
	h.mu.Lock()
	hc := h.chans[channel]
	if hc != nil {
		hc.refs++
	}
	h.mu.Unlock()
	if hc == nil {
		return nil
	}
	hc.op.Lock()
	hc.mu.Lock()
	_, had := hc.subs[s]
	delete(hc.subs, s)
	empty := len(hc.subs) == 0
	hc.mu.Unlock()
	var err error
	if empty && hc.live {
		// On failure the subscription stays: deliveries find no session,
		// and the next subscribe or unsubscribe of the channel reuses it.
		if err = h.b.Unsubscribe(ctx, channel); err == nil {
			hc.live = false
		}
	}
	hc.op.Unlock()
	refs := 1
	if had {
		refs++
	}
	h.release(channel, hc, refs)
	return err
}

// channels returns how many channels this node is subscribed to.
func (h *hub) channels() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.chans)
}

func (hc *hubChan) fanout(m Message) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	for s := range hc.subs {
		s.deliver(m)
	}
}
