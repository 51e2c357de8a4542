package realtime_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
)

// eventLog is an Observer that records every event.
type eventLog struct {
	mu   sync.Mutex
	evs  []realtime.Event
	kick chan struct{}
}

func newEventLog() *eventLog { return &eventLog{kick: make(chan struct{})} }

func (l *eventLog) Observe(e realtime.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
	close(l.kick)
	l.kick = make(chan struct{})
}

func (l *eventLog) counts() map[realtime.EventKind]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := make(map[realtime.EventKind]int)
	for _, e := range l.evs {
		n[e.Kind]++
	}
	return n
}

func (l *eventLog) of(k realtime.EventKind) []realtime.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []realtime.Event
	for _, e := range l.evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// waitFor waits until k was observed n times.
func (l *eventLog) waitFor(t *testing.T, ctx context.Context, k realtime.EventKind, n int) {
	t.Helper()
	for {
		l.mu.Lock()
		kick := l.kick
		l.mu.Unlock()
		if got := l.counts()[k]; got >= n {
			return
		}
		select {
		case <-kick:
		case <-ctx.Done():
			t.Fatalf("%v observed %d times, want %d", k, l.counts()[k], n)
		}
	}
}

// A known workload produces exactly its events: connection events in
// order, every publish followed by its one outcome, with headers, sizes
// and timings.
func TestObserverSeesEveryEvent(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, nil)
	srv.Nack(func(m mock.Message) (uint16, string) {
		if m.Channel == "no" {
			return 4003, "forbidden"
		}
		return 0, ""
	})
	log := newEventLog()
	rec := newRecorder()
	c := connect(t, ctx, srv, &realtime.Options{Observer: log}, rec)
	require.NoError(t, subscribed(c.Subscribe(ctx, "ch", rec.handle)))
	h := map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	for range 3 {
		require.NoError(t, c.PublishMessage(ctx, realtime.Message{Channel: "ch", Data: []byte("hello"), Header: h}))
	}
	var refused *realtime.RefusedError
	require.ErrorAs(t, c.Publish(ctx, "no", []byte("x")), &refused)
	log.waitFor(t, ctx, realtime.EventDeliver, 3)
	log.waitFor(t, ctx, realtime.EventNack, 1)

	srv.DropConnections()
	log.waitFor(t, ctx, realtime.EventResume, 1)
	srv.DropAcks(true)
	_, err := c.PublishAsync("other", []byte("never acked"))
	require.NoError(t, err)
	require.NoError(t, c.Close())

	require.Equal(t, map[realtime.EventKind]int{
		realtime.EventConnect: 1, realtime.EventDisconnect: 2, realtime.EventResume: 1,
		realtime.EventPublish: 5, realtime.EventAck: 3, realtime.EventNack: 1, realtime.EventDrop: 1,
		realtime.EventDeliver: 3,
	}, log.counts())

	// The connection events, in order.
	var conn []realtime.EventKind
	for _, e := range log.evs {
		switch e.Kind {
		case realtime.EventConnect, realtime.EventDisconnect, realtime.EventResume, realtime.EventTransportChange:
			conn = append(conn, e.Kind)
			require.Equal(t, "websocket", e.Transport, e.Kind)
		}
	}
	require.Equal(t, []realtime.EventKind{realtime.EventConnect, realtime.EventDisconnect,
		realtime.EventResume, realtime.EventDisconnect}, conn)
	disc := log.of(realtime.EventDisconnect)
	require.Error(t, disc[0].Err)
	require.Equal(t, "closed by the application", disc[1].Reason)
	require.Positive(t, disc[1].Latency)

	// Each publish before its outcome, in the order published (one
	// publisher, one reader).
	var pending []string
	for _, e := range log.evs {
		switch e.Kind {
		case realtime.EventPublish:
			pending = append(pending, e.Channel)
		case realtime.EventAck, realtime.EventNack, realtime.EventDrop:
			require.NotEmpty(t, pending, "%v before its publish", e.Kind)
			require.Equal(t, pending[0], e.Channel)
			pending = pending[1:]
			require.Positive(t, e.Latency)
			if e.Kind != realtime.EventDrop { // a drop may come before the send
				require.Positive(t, e.Seq, "sent, so numbered")
			}
		}
	}
	require.Empty(t, pending)
	for _, e := range log.of(realtime.EventAck) {
		require.Equal(t, h, e.Header)
		require.Equal(t, 5, e.Bytes)
		require.NoError(t, e.Err)
	}
	require.ErrorAs(t, log.of(realtime.EventNack)[0].Err, &refused)
	require.ErrorIs(t, log.of(realtime.EventDrop)[0].Err, realtime.ErrClosed)
	for _, e := range log.of(realtime.EventDeliver) {
		require.Equal(t, "ch", e.Channel)
		require.Equal(t, h, e.Header)
		require.Equal(t, 5, e.Bytes)
		require.Positive(t, e.Seq)
	}
}

// A publish refused before it is queued is a publish and a drop.
func TestObserverSeesRefusalToQueue(t *testing.T) {
	log := newEventLog()
	c, err := realtime.New("ws://127.0.0.1:1", &realtime.Options{Observer: log, OutboxCount: 1})
	require.NoError(t, err)
	_, err = c.PublishAsync("a", []byte("1"))
	require.NoError(t, err)
	_, err = c.PublishAsync("a", []byte("2"))
	require.ErrorIs(t, err, realtime.ErrOutboxFull)
	require.NoError(t, c.Close())
	require.Equal(t, map[realtime.EventKind]int{realtime.EventPublish: 2, realtime.EventDrop: 2}, log.counts())
	drops := log.of(realtime.EventDrop)
	require.ErrorIs(t, drops[0].Err, realtime.ErrOutboxFull)
	require.ErrorIs(t, drops[1].Err, realtime.ErrClosed)
}

func TestEventKindString(t *testing.T) {
	require.Equal(t, "ack", realtime.EventAck.String())
	require.Equal(t, "transport change", realtime.EventTransportChange.String())
	require.Equal(t, "unknown", realtime.EventKind(0).String())
	require.Equal(t, "unknown", realtime.EventKind(200).String())
}
