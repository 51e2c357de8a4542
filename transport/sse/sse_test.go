package sse_test

import (
	"testing"

	"github.com/realtimekit/realtime/transport/sse"
	"github.com/realtimekit/realtime/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, transporttest.Subject{Transport: sse.Transport{}, NewHandler: sse.NewHandler})
}
