package natsbroker

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime/server"
)

// The one server restarts on its port and store: the node's ordered
// consumer resumes after the last publication it delivered, and Healthy
// reports the outage and then the recovery.
func TestDeliveriesSurviveServerRestart(t *testing.T) {
	port := freePorts(t, 1)[0]
	opts := &natsserver.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(), NoSigs: true}
	var s *natsserver.Server
	start := func() {
		o := *opts
		var err error
		s, err = natsserver.NewServer(&o)
		require.NoError(t, err)
		go s.Start()
		require.True(t, s.ReadyForConnections(scaled(10*time.Second)))
	}
	start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	conn := func() *nats.Conn {
		return connect(t, s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
			nats.NoCallbacksAfterClientClose())
	}
	ctx := testCtx(t)
	newC := func() *Cluster {
		c, err := New(ctx, conn(), Options{healthEvery: 50 * time.Millisecond})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		return c
	}
	pub, sub := newC(), newC()

	var mu sync.Mutex
	var got []string
	require.NoError(t, sub.Subscribe(ctx, "r", func(m server.Message) {
		mu.Lock()
		got = append(got, string(m.Data))
		mu.Unlock()
	}))
	received := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	sent := 0
	publish := func(n int) {
		for range n {
			m := server.Message{Channel: "r", Data: []byte(strconv.Itoa(sent)), ID: strconv.Itoa(sent)}
			waitFor(t, "a stored publication", func() bool {
				pctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				return pub.Publish(pctx, m) == nil
			})
			sent++
		}
	}

	publish(20)
	waitFor(t, "deliveries", func() bool { return received() == sent })
	require.NoError(t, sub.Healthy())

	s.Shutdown()
	s.WaitForShutdown()
	waitFor(t, "Healthy to fail", func() bool { return sub.Healthy() != nil })
	pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	require.Error(t, pub.Publish(pctx, server.Message{Channel: "r", Data: []byte("x")}), "publish while down")
	cancel()

	start()
	waitFor(t, "Healthy again", func() bool { return sub.Healthy() == nil && pub.Healthy() == nil })
	publish(20)
	waitFor(t, "deliveries after the restart", func() bool { return received() >= sent })
	mu.Lock()
	defer mu.Unlock()
	for i, d := range got {
		require.Equal(t, strconv.Itoa(i), d, "skipped, repeated or reordered")
	}
	require.Len(t, got, sent)
	require.Equal(t, uint64(sent), sub.Delivered())
}
