package server

import "github.com/realtimekit/realtime/codec"

// frameQueue is the ring of frames a session keeps until the client acks
// them: appended at the back, released from the front, read by index. A
// slice re-sliced from the front would reallocate at every growth; the
// ring reallocates only to grow, and shrinks once mostly empty so that a
// burst does not pin its memory.
type frameQueue struct {
	buf     []keptFrame
	head, n int
}

// keptFrame is a kept frame and, with a Log broker, the log position it
// came from (see cluster.go).
type keptFrame struct {
	f   codec.Frame
	pos uint64
}

const minQueue = 16

func (q *frameQueue) len() int { return q.n }

// at returns the i-th kept frame, from 0.
func (q *frameQueue) at(i int) *codec.Frame { return &q.buf[(q.head+i)%len(q.buf)].f }

// posAt returns the log position of the i-th kept frame.
func (q *frameQueue) posAt(i int) uint64 { return q.buf[(q.head+i)%len(q.buf)].pos }

func (q *frameQueue) push(f codec.Frame, pos uint64) {
	if q.n == len(q.buf) {
		q.resize(max(minQueue, 2*len(q.buf)))
	}
	q.buf[(q.head+q.n)%len(q.buf)] = keptFrame{f, pos}
	q.n++
}

// drop releases the first n frames and returns their payload bytes and
// their bytes as keptSize counts them.
func (q *frameQueue) drop(n int) (payload, kept int) {
	n = min(n, q.n)
	for range n {
		k := &q.buf[q.head]
		payload += len(k.f.Data)
		kept += keptSize(&k.f)
		*k = keptFrame{} // let the payload go
		q.head = (q.head + 1) % len(q.buf)
	}
	q.n -= n
	size := len(q.buf)
	for size > 4*minQueue && q.n < size/4 {
		size /= 2
	}
	if size != len(q.buf) {
		q.resize(size)
	}
	return payload, kept
}

func (q *frameQueue) resize(size int) {
	buf := make([]keptFrame, size)
	for i := range q.n {
		buf[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = buf, 0
}

func (q *frameQueue) reset() { *q = frameQueue{} }
