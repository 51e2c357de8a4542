package longpoll_test

import (
	"testing"

	"github.com/realtimekit/realtime/transport/longpoll"
	"github.com/realtimekit/realtime/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, transporttest.Subject{Transport: longpoll.Transport{}, NewHandler: longpoll.NewHandler})
}
