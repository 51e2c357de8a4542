package transporttest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/transport/transporttest"
	"github.com/realtimekit/realtime/transport/websocket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// TestRun runs the suite against the WebSocket transport, the reference
// implementation, to show the suite passes a correct transport and leaves
// no goroutine behind.
func TestRun(t *testing.T) {
	transporttest.Run(t, transporttest.Subject{
		Transport:  websocket.Transport{},
		NewHandler: websocket.NewHandler,
	})
}
