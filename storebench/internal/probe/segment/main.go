// Command segment is the baseline client with store/filestore, for the
// store comparison's size column.
package main

import (
	"context"
	"os"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/store/filestore"
)

func main() {
	st, err := filestore.Open(os.Args[2], nil)
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
