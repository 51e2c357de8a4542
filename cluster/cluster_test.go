package cluster

import (
	"testing"
	"time"

	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
	"github.com/realtimekit/realtime/transport/sse"
	"github.com/realtimekit/realtime/transport/websocket"
)

// check asserts the obligations of issue 12 on a run's counts.
func check(t *testing.T, c counts) {
	t.Helper()
	if c.lost != 0 || c.duplicated != 0 || c.reordered != 0 {
		t.Errorf("server → client: %d lost, %d duplicated, %d reordered, want none", c.lost, c.duplicated, c.reordered)
	}
	if c.failed != 0 || c.acked != c.published {
		t.Errorf("client → server: %d of %d publishes acked, %d failed, want every one acked", c.acked, c.published, c.failed)
	}
	if c.onPublishUnique < c.acked || c.onPublishUnexplained != 0 {
		t.Errorf("OnPublish: %d distinct publishes for %d acked, %d repeated, %d of them without a kill of the first node: "+
			"want every publish once, and again only after its node was killed", c.onPublishUnique, c.acked,
			c.onPublishRepeats, c.onPublishUnexplained)
	}
	if c.reconnects > 0 && c.resumed*10 < c.reconnects*9 {
		t.Errorf("%d of %d reconnects resumed, want at least 90%%", c.resumed, c.reconnects)
	}
	if c.nodeKills == 0 {
		t.Error("no node was killed during the run")
	}
}

// 20 clients over WebSocket, SSE and long polling through haproxy
// (round-robin, no stickiness) to 3 nodes on a 3-node NATS cluster, each
// publishing 2,000 messages and receiving 2,000, while a node is killed
// with SIGKILL and restarted every 2 s and one NATS node is restarted.
func TestClusterUnderKills(t *testing.T) {
	check(t, runCluster(t, runConfig{
		clients: 20, messages: 2000, span: 30 * time.Second, killEvery: 2 * time.Second, restartNATS: true,
		transports: []transport.Transport{websocket.Transport{}, sse.Transport{}, longpoll.Transport{}},
	}))
}

// The same cluster over SSE and long polling alone: every request of a
// connection may land on any node.
func TestClusterHTTPTransports(t *testing.T) {
	check(t, runCluster(t, runConfig{
		clients: 20, messages: 2000, span: 30 * time.Second, killEvery: 2 * time.Second,
		transports: []transport.Transport{sse.Transport{}, longpoll.Transport{}},
	}))
}
