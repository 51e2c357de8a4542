// Package clustertest holds what the tests of several server nodes share,
// in package server and in server/natsbroker: a balancer that sends every
// request to the node chosen now, a counter of OnPublish calls, and the
// transports by name.
package clustertest

import (
	"context"
	"net/http"
	"sync"

	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
	"github.com/realtimekit/realtime/transport/sse"
	"github.com/realtimekit/realtime/transport/websocket"
)

// Front sends every request to the node chosen now, as a balancer whose
// node died sends the retries elsewhere.
type Front struct {
	mu sync.Mutex
	to http.Handler
}

// NewFront returns a Front sending to h.
func NewFront(h http.Handler) *Front { return &Front{to: h} }

// ServeHTTP sends r to the node chosen now.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	h := f.to
	f.mu.Unlock()
	h.ServeHTTP(w, r)
}

// Set chooses the node that gets the requests from now on.
func (f *Front) Set(h http.Handler) {
	f.mu.Lock()
	f.to = h
	f.mu.Unlock()
}

// PubCount counts one node's OnPublish calls by payload.
type PubCount struct {
	mu sync.Mutex
	n  map[string]int
}

// NewPubCount returns an empty PubCount.
func NewPubCount() *PubCount { return &PubCount{n: map[string]int{}} }

// Get returns how many times OnPublish saw data.
func (p *PubCount) Get(data string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[data]
}

// Hook is the OnPublish that counts.
func (p *PubCount) Hook(_ context.Context, pub server.Publication) error {
	p.mu.Lock()
	p.n[string(pub.Data)]++
	p.mu.Unlock()
	return nil
}

// Transports returns the one transport named "sse", "longpoll" or, for
// anything else, "websocket".
func Transports(name string) []transport.Transport {
	switch name {
	case "sse":
		return []transport.Transport{sse.Transport{}}
	case "longpoll":
		return []transport.Transport{longpoll.Transport{}}
	}
	return []transport.Transport{websocket.Transport{}}
}
