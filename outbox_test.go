package realtime_test

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
)

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A publisher offers 64 MiB while nothing gets acknowledged (no server, or
// a server that never acks): the outbox keeps to its byte limit, refuses the
// rest with ErrOutboxFull, and the heap shows it.
func TestOutboxHoldsItsLimitsUnderAFastPublisher(t *testing.T) {
	const limit = 4 << 20
	const size = 256 << 10
	for _, tc := range []struct {
		name   string
		server bool
		policy realtime.OutboxPolicy
	}{
		{"disconnected", false, realtime.RefuseNew},
		{"disconnected, drop oldest", false, realtime.DropOldest},
		{"connected, acks dropped", true, realtime.RefuseNew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *realtime.Client
			if tc.server {
				srv := newServer(t, &mock.Options{MaxReceived: 1})
				srv.DropAcks(true)
				c = connect(t, testCtx(t, 10*time.Second), srv, &realtime.Options{OutboxBytes: limit, OutboxPolicy: tc.policy}, nil)
			} else {
				var err error
				c, err = realtime.New("http://127.0.0.1:1", &realtime.Options{OutboxBytes: limit, OutboxPolicy: tc.policy})
				require.NoError(t, err)
				t.Cleanup(func() { c.Close() })
			}
			payload := bytes.Repeat([]byte("x"), size) // zero bytes would be escaped by JSON past the limit
			before := heapInUse()
			var accepted, refused, dropped int
			var receipts []*realtime.Receipt
			for range 256 { // 64 MiB offered
				r, err := c.PublishAsync("t", payload)
				switch {
				case errors.Is(err, realtime.ErrOutboxFull):
					refused++
				case err != nil:
					t.Fatal(err)
				default:
					accepted++
					receipts = append(receipts, r)
				}
			}
			for _, r := range receipts {
				if errors.Is(r.Err(), realtime.ErrOutboxFull) {
					dropped++
				}
			}
			grown := int64(heapInUse()) - int64(before)
			t.Logf("accepted %d, refused %d, dropped %d, heap grew %d KiB (limit %d KiB)", accepted, refused, dropped, grown>>10, limit>>10)
			room := limit / (size + len("t")) // a message's room counts its channel name
			require.Equal(t, room, accepted-dropped, "exactly what fits in the byte limit is held")
			require.LessOrEqual(t, c.Stats().OutboxBytes, limit)
			require.Greater(t, grown, int64(limit/2), "the held messages are the client's own copies")
			// Connected, the same process also holds the encoded batch and the
			// in-process server's read buffers; either way, far from 64 MiB.
			bound := int64(2 * limit)
			if tc.server {
				bound = 4 * limit
			}
			require.Less(t, grown, bound, "memory stays near the limit, not the 64 MiB offered")
			if tc.policy == realtime.DropOldest {
				require.Equal(t, 256, accepted, "drop-oldest takes every new publish")
				require.Equal(t, 256-room, dropped)
			} else {
				require.Equal(t, 256-room, refused)
			}
		})
	}
}
