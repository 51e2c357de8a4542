package realtime_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
)

// Finding 9: a server that stays connected and keeps pinging but never
// acknowledges leaves a link that is treated as dead after twice the
// heartbeat plus grace; the publish goes through on the next link.
func TestLinkWithoutAcksIsDead(t *testing.T) {
	for _, tr := range realtime.DefaultTransports() {
		t.Run(tr.Name(), func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t, 15*time.Second)
			srv := newServer(t, &mock.Options{Server: server.Config{Heartbeat: 200 * time.Millisecond}})
			rec := newRecorder()
			c := connect(t, ctx, srv, &realtime.Options{
				Transports:      []transport.Transport{tr},
				UpgradeInterval: -1,
				HeartbeatGrace:  100 * time.Millisecond, // acks awaited 2 × 300 ms
			}, rec)
			srv.DropAcks(true)
			sent := time.Now()
			r, err := c.PublishAsync("ch", []byte("x"))
			require.NoError(t, err)
			lost := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.To == realtime.StateReconnecting })
			require.True(t, errors.Is(lost.Err, realtime.ErrLinkDead), "lost with %v", lost.Err)
			require.GreaterOrEqual(t, time.Since(sent), 600*time.Millisecond)
			srv.DropAcks(false)
			require.NoError(t, r.Wait(ctx))
		})
	}
}
