package server_test

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/realtimekit/realtime/server"
)

// memRelay is an in-memory server.Relay shared by the Servers of a test,
// with a switch that makes a node gone (as if its process had died).
type memRelay struct {
	mu    sync.Mutex
	nodes map[string]*memNode
}

type memNode struct {
	handle    func(context.Context, []byte) []byte
	wg        sync.WaitGroup
	forwarded atomic.Int64
}

var _ server.Relay = (*memRelay)(nil)

func newMemRelay() *memRelay { return &memRelay{nodes: map[string]*memNode{}} }

func (m *memRelay) Serve(node string, handle func(context.Context, []byte) []byte) (func(), error) {
	n := &memNode{handle: handle}
	m.mu.Lock()
	m.nodes[node] = n
	m.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.drop(node, n)
			n.wg.Wait()
		})
	}, nil
}

// drop makes node gone if n is still the one serving it.
func (m *memRelay) drop(node string, n *memNode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nodes[node] == n || n == nil {
		delete(m.nodes, node)
	}
}

func (m *memRelay) Forward(ctx context.Context, node string, req []byte) ([]byte, error) {
	m.mu.Lock()
	n := m.nodes[node]
	if n != nil {
		n.wg.Add(1)
	}
	m.mu.Unlock()
	if n == nil {
		return nil, server.ErrNodeGone
	}
	n.forwarded.Add(1)
	ans := make(chan []byte, 1)
	req = bytes.Clone(req)
	go func() {
		defer n.wg.Done()
		ans <- n.handle(ctx, req)
	}()
	select {
	case a := <-ans:
		return a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// forwarded returns how many requests were forwarded to node so far.
func (m *memRelay) forwarded(node string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.nodes[node]; n != nil {
		return n.forwarded.Load()
	}
	return 0
}

// fanBroker is an in-memory Broker shared by several Servers: each gets a
// view, and a publication goes to every view subscribed to its channel,
// under one lock, so every node sees one order.
type fanBroker struct {
	mu   sync.Mutex
	subs map[string]map[*fanView]func(server.Message)
}

type fanView struct{ b *fanBroker }

func newFanBroker() *fanBroker {
	return &fanBroker{subs: map[string]map[*fanView]func(server.Message){}}
}

func (b *fanBroker) view() server.Broker { return &fanView{b: b} }

func (v *fanView) Publish(ctx context.Context, m server.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v.b.mu.Lock()
	defer v.b.mu.Unlock()
	for _, deliver := range v.b.subs[m.Channel] {
		deliver(m)
	}
	return nil
}

func (v *fanView) Subscribe(ctx context.Context, channel string, deliver func(server.Message)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v.b.mu.Lock()
	defer v.b.mu.Unlock()
	if v.b.subs[channel] == nil {
		v.b.subs[channel] = map[*fanView]func(server.Message){}
	}
	v.b.subs[channel][v] = deliver
	return nil
}

func (v *fanView) Unsubscribe(ctx context.Context, channel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v.b.mu.Lock()
	defer v.b.mu.Unlock()
	delete(v.b.subs[channel], v)
	return nil
}

func (v *fanView) Close(context.Context) error {
	v.b.mu.Lock()
	defer v.b.mu.Unlock()
	for _, s := range v.b.subs {
		delete(s, v)
	}
	return nil
}

// roundRobin is a reverse proxy that sends every request to the next
// backend that is up, with no stickiness, streaming answers as they come.
type roundRobin struct {
	backends []*url.URL
	down     []atomic.Bool
	next     atomic.Uint64
	tr       *http.Transport
	ts       *httptest.Server
}

func newRoundRobin(t *testing.T, backends ...string) *roundRobin {
	t.Helper()
	rr := &roundRobin{down: make([]atomic.Bool, len(backends)), tr: &http.Transport{}}
	for _, b := range backends {
		u, err := url.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		rr.backends = append(rr.backends, u)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(pr.In.Context().Value(backendKey{}).(*url.URL))
		},
		Transport:     rr.tr,
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	rr.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range len(rr.backends) {
			i := int(rr.next.Add(1)-1) % len(rr.backends)
			if !rr.down[i].Load() {
				rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, rr.backends[i])))
				return
			}
		}
		http.Error(w, "no backend", http.StatusServiceUnavailable)
	}))
	t.Cleanup(func() {
		rr.ts.Close()
		rr.tr.CloseIdleConnections()
	})
	return rr
}

type backendKey struct{}
