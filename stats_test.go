package realtime_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
)

func TestStatsCountWhatHappened(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, nil)
	srv.Nack(func(m mock.Message) (uint16, string) {
		if m.Channel == "no" {
			return 4003, "forbidden"
		}
		return 0, ""
	})
	rec := newRecorder()
	c := connect(t, ctx, srv, nil, rec)
	require.NoError(t, subscribed(c.Subscribe(ctx, "yes", rec.handle)))
	for range 10 {
		require.NoError(t, c.Publish(ctx, "yes", []byte("x")))
	}
	require.Error(t, c.Publish(ctx, "no", []byte("x")))
	rec.waitMsgs(t, ctx, 10)
	srv.DropConnections()
	rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.Reason == "session resumed" })
	require.NoError(t, c.Publish(ctx, "yes", []byte("after")))
	rec.waitMsgs(t, ctx, 11)

	s := c.Stats()
	require.Equal(t, realtime.StateConnected, s.State)
	require.Equal(t, "websocket", s.Transport)
	require.Equal(t, uint64(2), s.Connects)
	require.Equal(t, uint64(1), s.Disconnects)
	require.Zero(t, s.ContinuityLost)
	require.Equal(t, uint64(12), s.Published)
	require.Equal(t, uint64(11), s.Acked)
	require.Equal(t, uint64(1), s.Refused)
	require.Equal(t, uint64(13), s.Sent, "12 publishes and 1 subscribe")
	require.Equal(t, uint64(11), s.Delivered)
	require.Zero(t, s.OutboxCount)
	var acked uint64
	for _, n := range s.AckLatency {
		acked += n
	}
	require.Equal(t, s.Acked, acked)
	require.Positive(t, s.Quantile(0.99))
	require.LessOrEqual(t, s.Quantile(0.5), s.Quantile(0.99))
}

func TestQuantileOfEmptyStats(t *testing.T) {
	require.Zero(t, realtime.Stats{}.Quantile(0.5))
}

// lockedBuffer is an io.Writer safe for the client's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Debug logs through a connect, refusals, a drop and a resume carry
// sessions, transports, states and reasons, and never a token or a payload.
func TestLogsCarryNoTokenOrPayload(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	const token, header, payload = "tok-SECRET-1", "hdr-SECRET-2", "payload-SECRET-3"
	srv := newServer(t, nil)
	srv.RefuseTransport("websocket", 403)
	var buf lockedBuffer
	rec := newRecorder()
	c := connect(t, ctx, srv, &realtime.Options{
		Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Token:  func(context.Context) (string, error) { return token, nil },
		Header: http.Header{"X-Api-Key": {header}},
	}, rec)
	require.NoError(t, subscribed(c.Subscribe(ctx, "c", rec.handle)))
	require.NoError(t, c.Publish(ctx, "c", []byte(payload)))
	rec.waitMsgs(t, ctx, 1)
	srv.DropConnections()
	rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.Reason == "session resumed" })
	require.NoError(t, c.Close())

	out := buf.String()
	require.Contains(t, out, "transport=sse")
	require.Contains(t, out, "session=")
	require.Contains(t, out, "reason=")
	for _, secret := range []string{token, header, payload} {
		require.NotContains(t, out, secret)
	}
}
