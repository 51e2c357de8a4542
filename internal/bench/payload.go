package bench

import (
	"errors"
	"slices"
	"strconv"
	"time"
)

// epoch makes timestamps monotonic: a wall-clock step during a run would
// otherwise show up as a latency.
var epoch = time.Now()

const stampLen = 19

// Payload returns size bytes of printable ASCII (so that the text
// transports carry it as is) that start with the current time.
func Payload(size int) []byte {
	p := make([]byte, max(size, stampLen))
	for i := range p {
		p[i] = 'x'
	}
	Stamp(p)
	return p[:max(size, stampLen)]
}

// Stamp writes the current time into the start of p, which Payload made.
func Stamp(p []byte) {
	ns := strconv.AppendInt(nil, int64(time.Since(epoch)), 10)
	for i := range stampLen {
		p[i] = '0'
	}
	copy(p[stampLen-len(ns):], ns)
}

// Since returns how long ago p was stamped.
func Since(p []byte) (time.Duration, error) {
	if len(p) < stampLen {
		return 0, errors.New("bench: payload too short for a timestamp")
	}
	ns, err := strconv.ParseInt(string(p[:stampLen]), 10, 64)
	if err != nil {
		return 0, err
	}
	return time.Since(epoch) - time.Duration(ns), nil
}

// Latencies collects one duration per operation. It is not safe for
// concurrent use: each benchmark records from one goroutine.
type Latencies struct {
	d []time.Duration
}

// NewLatencies returns a collector sized for n operations, so that
// recording does not allocate inside the timed loop.
func NewLatencies(n int) *Latencies {
	return &Latencies{d: make([]time.Duration, 0, n)}
}

// Add records one operation.
func (l *Latencies) Add(d time.Duration) { l.d = append(l.d, d) }

// Len returns how many operations were recorded.
func (l *Latencies) Len() int { return len(l.d) }

// Percentile returns the p-th percentile (0–100) by nearest rank, or zero
// when nothing was recorded.
func (l *Latencies) Percentile(p float64) time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Micros returns d in microseconds, the unit of the latency metrics.
func Micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
