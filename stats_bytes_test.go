package realtime_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/transport"
)

// countingTransport counts the bytes its connections send and receive
// after the handshake (each connection's first message each way).
type countingTransport struct {
	transport.Transport
	sent, received atomic.Uint64
}

func (t *countingTransport) Dial(ctx context.Context, url string, cfg transport.Config) (transport.Conn, error) {
	c, err := t.Transport.Dial(ctx, url, cfg)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, t: t}, nil
}

type countingConn struct {
	transport.Conn
	t            *countingTransport
	mu           sync.Mutex // Send and Recv run on different goroutines
	sentN, recvN int
}

func (c *countingConn) Send(ctx context.Context, msg []byte) error {
	err := c.Conn.Send(ctx, msg)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		if c.sentN > 0 {
			c.t.sent.Add(uint64(len(msg)))
		}
		c.sentN++
	}
	return err
}

func (c *countingConn) Recv(ctx context.Context) ([]byte, error) {
	msg, err := c.Conn.Recv(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		if c.recvN > 0 {
			c.t.received.Add(uint64(len(msg)))
		}
		c.recvN++
	}
	return msg, err
}

// A known workload, on each transport, gives exact payload byte counts,
// wire byte counts equal to what crossed the transport after the
// handshake, and a latency sum within the bounds of its buckets.
func TestStatsBytesAndLatencySum(t *testing.T) {
	for _, tr := range realtime.DefaultTransports() {
		t.Run(tr.Name(), func(t *testing.T) {
			ctx := testCtx(t, 10*time.Second)
			srv := newServer(t, nil)
			ct := &countingTransport{Transport: tr}
			rec := newRecorder()
			c := connect(t, ctx, srv, &realtime.Options{Transports: []transport.Transport{ct}}, rec)
			require.NoError(t, subscribed(c.Subscribe(ctx, "ch", rec.handle)))
			var payload uint64
			for i := range 20 {
				data := make([]byte, 10+i) // 10..29 bytes
				payload += uint64(len(data))
				require.NoError(t, c.Publish(ctx, "ch", data))
			}
			rec.waitMsgs(t, ctx, 20)

			// Acks of the deliveries go out within the ack delay: wait until
			// the counters agree with the transport, exactly.
			var s realtime.Stats
			for {
				s = c.Stats()
				if s.BytesSent == ct.sent.Load() && s.BytesReceived == ct.received.Load() && s.Delivered == 20 {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("stats %d sent, %d received; transport %d, %d", s.BytesSent, s.BytesReceived, ct.sent.Load(), ct.received.Load())
				case <-time.After(5 * time.Millisecond):
				}
			}
			require.Equal(t, tr.Name(), s.Transport)
			require.Equal(t, payload, s.PublishedBytes)
			require.Equal(t, payload, s.DeliveredBytes)
			// Each publish went out at least with its payload, each delivery
			// came in with it.
			require.Greater(t, s.BytesSent, payload)
			require.Greater(t, s.BytesReceived, payload)

			require.Equal(t, uint64(20), s.Acked)
			require.Positive(t, s.AckLatencySum)
			var lo, hi time.Duration
			for i, n := range s.AckLatency {
				if n == 0 {
					continue
				}
				require.Less(t, i, len(realtime.LatencyBuckets), "an ack slower than 5 s")
				if i > 0 {
					lo += time.Duration(n) * realtime.LatencyBuckets[i-1]
				}
				hi += time.Duration(n) * realtime.LatencyBuckets[i]
			}
			require.GreaterOrEqual(t, s.AckLatencySum, lo)
			require.LessOrEqual(t, s.AckLatencySum, hi)
		})
	}
}

// Publishes refused, failed, or to no handler count no delivered bytes;
// what is accepted counts its payload once, even when resent.
func TestStatsPublishedBytesCountAcceptedOnce(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, nil)
	rec := newRecorder()
	c := connect(t, ctx, srv, nil, rec)
	require.NoError(t, c.Publish(ctx, "nobody", []byte("12345")))
	srv.DropConnections()
	rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.Reason == "session resumed" })
	require.NoError(t, c.Publish(ctx, "nobody", []byte("678")))
	_, err := c.PublishAsync("nobody", make([]byte, 64<<20))
	require.ErrorIs(t, err, realtime.ErrMessageTooLarge)

	s := c.Stats()
	require.Equal(t, uint64(8), s.PublishedBytes)
	require.Zero(t, s.DeliveredBytes)
	require.Zero(t, s.Delivered)
}
