package natsbroker

import (
	"testing"

	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/server/brokertest"
)

func TestConformance(t *testing.T) {
	s := startServer(t)
	brokertest.Run(t, func(t *testing.T) server.Broker {
		c, err := New(testCtx(t), connect(t, s.ClientURL()), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}
