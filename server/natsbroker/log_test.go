package natsbroker

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime/server"
)

// collector records deliveries across channels in the order they came.
type collector struct {
	mu  sync.Mutex
	got []server.Message
}

func (c *collector) deliver(m server.Message) {
	c.mu.Lock()
	c.got = append(c.got, m)
	c.mu.Unlock()
}

func (c *collector) snapshot() []server.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]server.Message(nil), c.got...)
}

func TestLogOrderAcrossChannels(t *testing.T) {
	s := startServer(t)
	pub := newCluster(t, s.ClientURL(), Options{})
	sub := newCluster(t, s.ClientURL(), Options{})
	ctx := testCtx(t)
	var col collector
	// Any byte string is a channel: the empty one, control bytes, UTF-8,
	// dots and wildcards of NATS subjects.
	channels := []string{"a", "", "\x01internal", "späť.*>", "b"}
	for _, ch := range channels {
		require.NoError(t, sub.Subscribe(ctx, ch, col.deliver))
	}
	const n = 40
	for i := range n {
		for _, ch := range append(channels, "nobody") {
			require.NoError(t, pub.Publish(ctx, server.Message{Channel: ch, Data: fmt.Appendf(nil, "%d", i)}))
		}
	}
	last, err := pub.Last(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(n*(len(channels)+1)), last)
	waitFor(t, "every delivery", func() bool { return sub.Delivered() == last })
	got := col.snapshot()
	require.Len(t, got, n*len(channels))
	next := map[string]int{}
	var prev uint64
	for _, m := range got {
		require.Greater(t, m.Pos, prev, "positions increase across channels")
		prev = m.Pos
		require.Equal(t, fmt.Sprint(next[m.Channel]), string(m.Data), "channel %q", m.Channel)
		next[m.Channel]++
	}
	for _, ch := range channels {
		require.Equal(t, n, next[ch], "channel %q", ch)
	}
	waitFor(t, "a node with no subscription to advance", func() bool { return pub.Delivered() == last })
}

func TestLogRead(t *testing.T) {
	s := startServer(t)
	c := newCluster(t, s.ClientURL(), Options{})
	ctx := testCtx(t)
	for i := 1; i <= 30; i++ { // a at odd positions, b at even ones
		ch := map[bool]string{true: "a", false: "b"}[i%2 == 1]
		require.NoError(t, c.Publish(ctx, server.Message{Channel: ch, Data: fmt.Appendf(nil, "%d", i), ID: fmt.Sprint("id", i)}))
	}
	read := func(from, to uint64, chans []string, limit int) []uint64 {
		var pos []uint64
		require.NoError(t, c.Read(ctx, from, to, chans, func(m server.Message) bool {
			require.Equal(t, fmt.Sprint(m.Pos), string(m.Data))
			require.Equal(t, fmt.Sprint("id", m.Pos), m.ID)
			pos = append(pos, m.Pos)
			return len(pos) < limit
		}))
		return pos
	}
	require.Equal(t, []uint64{11, 13, 15}, read(10, 16, []string{"a"}, 100))
	require.Equal(t, []uint64{11, 12, 13, 14, 15, 16}, read(10, 16, []string{"a", "b"}, 100))
	require.Equal(t, []uint64{2, 4}, read(0, 30, []string{"b"}, 2), "stops when fn returns false")
	require.Equal(t, []uint64{30}, read(29, 1000, []string{"b"}, 100), "to beyond the end")
	require.Empty(t, read(30, 40, []string{"a", "b"}, 100), "nothing after the end")
	require.Empty(t, read(10, 20, []string{"c"}, 100), "a channel never published")
	require.Empty(t, read(16, 16, []string{"a"}, 100))
}

func TestLogTrimmed(t *testing.T) {
	s := startServer(t)
	c := newCluster(t, s.ClientURL(), Options{maxMsgs: 10})
	ctx := testCtx(t)
	for i := range 25 {
		require.NoError(t, c.Publish(ctx, server.Message{Channel: "a", Data: fmt.Appendf(nil, "%d", i)}))
	}
	// Sequences 16..25 are kept.
	err := c.Read(ctx, 14, 25, []string{"a"}, func(server.Message) bool { return true })
	require.True(t, errors.Is(err, server.ErrTrimmed), "got %v", err)
	var n int
	require.NoError(t, c.Read(ctx, 15, 25, []string{"a"}, func(server.Message) bool { n++; return true }))
	require.Equal(t, 10, n)
}

func TestLogTrimmedByAge(t *testing.T) {
	s := startServer(t)
	c := newCluster(t, s.ClientURL(), Options{Retention: time.Second, DedupWindow: time.Second})
	ctx := testCtx(t)
	require.NoError(t, c.Publish(ctx, server.Message{Channel: "a", Data: []byte("x")}))
	waitFor(t, "the publication to age out", func() bool {
		return errors.Is(c.Read(ctx, 0, 1, []string{"a"}, func(server.Message) bool { return true }), server.ErrTrimmed)
	})
	last, err := c.Last(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), last, "Last stays after trimming")
	require.NoError(t, c.Read(ctx, 1, 5, []string{"a"}, func(server.Message) bool { return true }))
}

func TestLogDuplicateIDStoredOnce(t *testing.T) {
	s := startServer(t)
	c := newCluster(t, s.ClientURL(), Options{})
	ctx := testCtx(t)
	var col collector
	require.NoError(t, c.Subscribe(ctx, "d", col.deliver))
	for range 3 {
		require.NoError(t, c.Publish(ctx, server.Message{Channel: "d", Data: []byte("once"), ID: "s1:7"}))
	}
	require.NoError(t, c.Publish(ctx, server.Message{Channel: "d", Data: []byte("other"), ID: "s1:8"}))
	last, err := c.Last(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(2), last)
	waitFor(t, "deliveries", func() bool { return c.Delivered() == 2 })
	got := col.snapshot()
	require.Len(t, got, 2)
	require.Equal(t, "once", string(got[0].Data))
	require.Equal(t, "s1:7", got[0].ID)
}

func TestPublishLongChannel(t *testing.T) {
	s := startServer(t)
	c := newCluster(t, s.ClientURL(), Options{})
	ctx := testCtx(t)
	long := string(make([]byte, MaxChannel+1))
	require.ErrorIs(t, c.Publish(ctx, server.Message{Channel: long}), ErrChannelTooLong)
	require.NoError(t, c.Publish(ctx, server.Message{Channel: long[:MaxChannel]}), "the longest channel")
	require.NoError(t, c.Healthy(), "the connection is intact")
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{{Prefix: "a.b"}, {Prefix: "a b"}, {Replicas: -1}, {Retention: -time.Second}, {Retention: time.Minute, DedupWindow: time.Hour}} {
		_, err := New(testCtx(t), nil, o)
		require.ErrorIs(t, err, ErrOptions, "%+v", o)
	}
}
