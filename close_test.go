package realtime_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/transport"
)

// Finding 9: Close is bounded as its doc says, even when the path to the
// server stalled with a send under way (a server that stopped reading):
// at most CloseTimeout on WebSocket, CloseTimeout plus the HTTP
// transports' own close (flush and DELETE, 1 s each) on SSE and long
// polling.
func TestCloseIsBoundedWhenTheServerStoppedReading(t *testing.T) {
	for _, tr := range realtime.DefaultTransports() {
		t.Run(tr.Name(), func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t, 10*time.Second)
			srv := newServer(t, nil)
			p, url := newStallProxy(t, srv.URL())
			c, err := realtime.New(url, &realtime.Options{Transports: []transport.Transport{tr}, UpgradeInterval: -1})
			require.NoError(t, err)
			require.NoError(t, c.Connect(ctx))
			p.stall(true)
			for range 20 { // sends that the stalled path will not take
				_, err := c.PublishAsync("ch", make([]byte, 32<<10))
				require.NoError(t, err)
			}
			time.Sleep(50 * time.Millisecond) // let the writer start sending into the stall
			start := time.Now()
			require.NoError(t, c.Close())
			took := time.Since(start)
			bound := realtime.CloseTimeout
			if tr.Name() != "websocket" {
				bound += 2 * time.Second
			}
			t.Logf("%s: Close took %v (bound %v)", tr.Name(), took.Round(time.Millisecond), bound)
			require.LessOrEqual(t, took, scaled(bound+750*time.Millisecond), "beyond the documented bound and some scheduling slack")
		})
	}
}
