// Command bolt is the baseline client with the bbolt store, for the
// store comparison's size column.
package main

import (
	"context"
	"os"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/store/filestore"
	"github.com/realtimekit/realtime/storebench"
)

func main() {
	st, err := storebench.OpenBolt(os.Args[2], filestore.SyncEvery, time.Second)
	if err != nil {
		os.Exit(1)
	}
	defer st.Close()
	c, err := realtime.New(os.Args[1], &realtime.Options{Store: st})
	if err != nil {
		os.Exit(1)
	}
	_ = c.Connect(context.Background())
	_ = c.Publish(context.Background(), "t", []byte("x"))
}
