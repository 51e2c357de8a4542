package engine

import "sync/atomic"

// byteCounts are the engine's byte counters. They are atomics, not
// guarded by Engine.mu: the reader and the writer count their messages
// outside the lock, and the dispatcher counts deliveries.
type byteCounts struct {
	sent, received       atomic.Uint64 // encoded messages on live links
	published, delivered atomic.Uint64 // payload bytes accepted, handed to handlers
}

// Bytes is a snapshot of the byte counters.
type Bytes struct {
	// Sent and Received are the encoded bytes of the messages the writer
	// sent and the reader received on live links, on every transport:
	// frames, acks and pings, not the handshake (connect, hello) nor the
	// goodbye on Close.
	Sent, Received uint64
	// Published is the payload bytes of the publishes Enqueue accepted;
	// Delivered those of the messages handed to a handler.
	Published, Delivered uint64
}

// Bytes returns the byte counters.
func (e *Engine) Bytes() Bytes {
	return Bytes{
		Sent: e.bytes.sent.Load(), Received: e.bytes.received.Load(),
		Published: e.bytes.published.Load(), Delivered: e.bytes.delivered.Load(),
	}
}

// DeliveredBytes counts n payload bytes handed to a handler; the
// façade's dispatcher calls it before Processed.
func (e *Engine) DeliveredBytes(n int) { e.bytes.delivered.Add(uint64(n)) }

// countSent counts a message of n bytes the writer sent, unless err says
// the link did not take it.
func (e *Engine) countSent(n int, err error) {
	if err == nil {
		e.bytes.sent.Add(uint64(n))
	}
}
