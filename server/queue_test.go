package server

import (
	"testing"

	"github.com/realtimekit/realtime/codec"
)

func TestFrameQueueWrapsGrowsAndShrinks(t *testing.T) {
	var q frameQueue
	next, first := uint64(1), uint64(1)
	check := func() {
		t.Helper()
		if q.len() != int(next-first) {
			t.Fatalf("len %d, want %d", q.len(), next-first)
		}
		for i := range q.len() {
			if got := q.at(i).Seq; got != first+uint64(i) {
				t.Fatalf("at(%d) = %d, want %d", i, got, first+uint64(i))
			}
		}
	}
	push := func(n int) {
		for range n {
			q.push(codec.Frame{Seq: next, Data: []byte{1, 2}}, 0)
			next++
		}
		check()
	}
	drop := func(n int) {
		if b, _ := q.drop(n); b != 2*n {
			t.Fatalf("dropped %d bytes, want %d", b, 2*n)
		}
		first += uint64(n)
		check()
	}
	push(10)
	drop(7)
	push(30) // wraps, then grows
	drop(20)
	push(500)
	drop(513) // all of them; shrinks on the way
	if len(q.buf) > 4*minQueue {
		t.Fatalf("capacity %d after emptying", len(q.buf))
	}
	push(3)
}

func TestDropMoreThanHeldIsSafe(t *testing.T) {
	var q frameQueue
	q.push(codec.Frame{Type: codec.TypeMessage, Data: []byte("ab")}, 0)
	if got, _ := q.drop(5); got != 2 || q.len() != 0 {
		t.Fatalf("drop(5) of one frame: bytes %d, len %d", got, q.len())
	}
	q.reset()
	if got, _ := q.drop(3); got != 0 {
		t.Fatalf("drop from an empty queue: %d", got)
	}
}

// A kept frame's header counts towards the session's bytes, not towards
// the payload the client's inbox budget counts.
func TestDropCountsHeaders(t *testing.T) {
	var q frameQueue
	q.push(codec.Frame{Type: codec.TypeMessage, Data: []byte("ab"), Header: map[string]string{"k": "vvv"}}, 0)
	if payload, kept := q.drop(1); payload != 2 || kept != 6 {
		t.Fatalf("dropped payload %d, kept %d; want 2 and 6", payload, kept)
	}
}
