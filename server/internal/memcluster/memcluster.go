// Package memcluster is an in-memory engine for several Servers in one
// process: a Broker with a Log shared by every node, a SessionStore and a
// Relay. It is the reference the tests of package server run the cluster
// mode against, and it can be made unreachable on demand.
package memcluster

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/realtimekit/realtime/server"
)

// ErrDown is returned by every operation while the engine is down.
var ErrDown = errors.New("memcluster: engine unreachable")

// Cluster is the shared engine.
type Cluster struct {
	down      atomic.Bool
	storeDown atomic.Bool // the SessionStore alone is unreachable

	mu    sync.Mutex
	log   []server.Message // log[i].Pos == first+i
	first uint64           // position of log[0]
	ids   map[string]bool
	grew  chan struct{} // closed and replaced when the log grows

	smu      sync.Mutex
	sessions map[string]server.SessionRecord
	rev      uint64
}

// New returns an empty engine.
func New() *Cluster {
	return &Cluster{first: 1, ids: map[string]bool{}, grew: make(chan struct{}), sessions: map[string]server.SessionRecord{}}
}

// SetDown makes the engine unreachable (true) or reachable again.
func (c *Cluster) SetDown(down bool) { c.down.Store(down) }

// SetStoreDown makes the SessionStore alone unreachable, or reachable
// again: the log keeps working.
func (c *Cluster) SetStoreDown(down bool) { c.storeDown.Store(down) }

func (c *Cluster) storeErr() error {
	if c.down.Load() || c.storeDown.Load() {
		return ErrDown
	}
	return nil
}

// Trim forgets the publications up to pos, as retention would.
func (c *Cluster) Trim(pos uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.first <= pos && len(c.log) > 0 {
		c.log[0] = server.Message{}
		c.log = c.log[1:]
		c.first++
	}
}

func (c *Cluster) append(m server.Message) error {
	if c.down.Load() {
		return ErrDown
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.ID != "" {
		if c.ids[m.ID] {
			return nil
		}
		c.ids[m.ID] = true
	}
	m.Pos = c.first + uint64(len(c.log))
	c.log = append(c.log, m)
	close(c.grew)
	c.grew = make(chan struct{})
	return nil
}

// next returns the publication at pos, or a channel closed when it exists.
func (c *Cluster) next(pos uint64) (server.Message, bool, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pos < c.first {
		pos = c.first
	}
	if i := pos - c.first; i < uint64(len(c.log)) {
		return c.log[i], true, nil
	}
	return server.Message{}, false, c.grew
}

// Node is one node's view of the engine: a server.Broker, server.Log and
// server.Health. Deliveries run on one goroutine, in log order.
type Node struct {
	c         *Cluster
	delivered atomic.Uint64

	mu     sync.Mutex // held while a delivery runs
	subs   map[string]func(server.Message)
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// Node returns a new node, delivering from the end of the log.
func (c *Cluster) Node() *Node {
	c.mu.Lock()
	start := c.first + uint64(len(c.log))
	c.mu.Unlock()
	n := &Node{c: c, subs: map[string]func(server.Message){}, stop: make(chan struct{}), done: make(chan struct{})}
	n.delivered.Store(start - 1)
	go n.run(start)
	return n
}

func (n *Node) run(pos uint64) {
	defer close(n.done)
	for {
		m, ok, grew := n.c.next(pos)
		if !ok {
			select {
			case <-grew:
				continue
			case <-n.stop:
				return
			}
		}
		n.mu.Lock()
		if d := n.subs[m.Channel]; d != nil {
			d(m)
		}
		n.delivered.Store(m.Pos)
		n.mu.Unlock()
		pos = m.Pos + 1
	}
}

// Publish implements server.Broker.
func (n *Node) Publish(ctx context.Context, m server.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return n.c.append(m)
}

// Subscribe implements server.Broker.
func (n *Node) Subscribe(ctx context.Context, channel string, deliver func(server.Message)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return server.ErrClosed
	}
	n.subs[channel] = deliver
	return nil
}

// Unsubscribe implements server.Broker.
func (n *Node) Unsubscribe(ctx context.Context, channel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.subs, channel)
	return nil
}

// Close implements server.Broker.
func (n *Node) Close(context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return server.ErrClosed
	}
	n.closed = true
	n.subs = map[string]func(server.Message){}
	n.mu.Unlock()
	close(n.stop)
	<-n.done
	return nil
}

// Last implements server.Log.
func (n *Node) Last(context.Context) (uint64, error) {
	if n.c.down.Load() {
		return 0, ErrDown
	}
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return n.c.first + uint64(len(n.c.log)) - 1, nil
}

// Delivered implements server.Log.
func (n *Node) Delivered() uint64 { return n.delivered.Load() }

// Read implements server.Log.
func (n *Node) Read(ctx context.Context, from, to uint64, channels []string, fn func(server.Message) bool) error {
	if n.c.down.Load() {
		return ErrDown
	}
	n.c.mu.Lock()
	if from+1 < n.c.first {
		n.c.mu.Unlock()
		return server.ErrTrimmed
	}
	var out []server.Message
	for pos := from + 1; pos <= to && pos-n.c.first < uint64(len(n.c.log)); pos++ {
		if m := n.c.log[pos-n.c.first]; slices.Contains(channels, m.Channel) {
			out = append(out, m)
		}
	}
	n.c.mu.Unlock()
	for _, m := range out {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !fn(m) {
			return nil
		}
	}
	return nil
}

// Healthy implements server.Health.
func (n *Node) Healthy() error {
	if n.c.down.Load() {
		return ErrDown
	}
	return nil
}

var (
	_ server.Broker = (*Node)(nil)
	_ server.Log    = (*Node)(nil)
	_ server.Health = (*Node)(nil)
)

// Sessions returns the engine's server.SessionStore.
func (c *Cluster) Sessions() server.SessionStore { return store{c} }

type store struct{ c *Cluster }

func (s store) Create(ctx context.Context, rec *server.SessionRecord) error {
	return s.write(ctx, rec, true)
}

func (s store) Update(ctx context.Context, rec *server.SessionRecord) error {
	return s.write(ctx, rec, false)
}

func (s store) write(ctx context.Context, rec *server.SessionRecord, create bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.c.storeErr(); err != nil {
		return err
	}
	s.c.smu.Lock()
	defer s.c.smu.Unlock()
	old, ok := s.c.sessions[rec.ID]
	switch {
	case create && ok:
		return errors.New("memcluster: session exists")
	case !create && !ok:
		return server.ErrNoSession
	case !create && old.Version != rec.Version:
		return server.ErrSessionMoved
	}
	s.c.rev++
	rec.Version = s.c.rev
	cp := *rec
	cp.Subs = slices.Clone(rec.Subs)
	s.c.sessions[rec.ID] = cp
	return nil
}

func (s store) Load(ctx context.Context, id string) (*server.SessionRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.c.storeErr(); err != nil {
		return nil, err
	}
	s.c.smu.Lock()
	defer s.c.smu.Unlock()
	rec, ok := s.c.sessions[id]
	if !ok {
		return nil, server.ErrNoSession
	}
	rec.Subs = slices.Clone(rec.Subs)
	return &rec, nil
}

func (s store) Delete(ctx context.Context, id string, version uint64) error {
	if err := s.c.storeErr(); err != nil {
		return err
	}
	s.c.smu.Lock()
	defer s.c.smu.Unlock()
	rec, ok := s.c.sessions[id]
	switch {
	case !ok:
		return server.ErrNoSession
	case rec.Version != version:
		return server.ErrSessionMoved
	}
	delete(s.c.sessions, id)
	return nil
}

// Snapshot returns a copy of every session record the store holds.
func (c *Cluster) Snapshot() []server.SessionRecord {
	c.smu.Lock()
	defer c.smu.Unlock()
	out := make([]server.SessionRecord, 0, len(c.sessions))
	for _, r := range c.sessions {
		out = append(out, r)
	}
	return out
}
