package natsbroker

import (
	"testing"
	"time"
	"github.com/realtimekit/realtime/server"
)

func TestDbg(t *testing.T) {
	s := startServer(t)
	c := newCluster(t, s.ClientURL(), Options{Retention: time.Second, DedupWindow: time.Second})
	ctx := testCtx(t)
	c.Publish(ctx, server.Message{Channel: "a", Data: []byte("x")})
	for i := 0; i < 5; i++ {
		time.Sleep(time.Second)
		info, err := c.stream.Info(ctx)
		err2 := c.Read(ctx, 0, 1, []string{"a"}, func(server.Message) bool { return true })
		t.Logf("%+v %v %v", info.State, err, err2)
	}
}
