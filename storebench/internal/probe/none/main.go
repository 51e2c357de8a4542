// Command none is the size baseline of the store comparison: a client
// that publishes, with no store.
package main

import (
	"context"
	"os"

	"github.com/realtimekit/realtime"
)

func main() {
	c, err := realtime.New(os.Args[1], nil)
	if err != nil {
		os.Exit(1)
	}
	_ = c.Connect(context.Background())
	_ = c.Publish(context.Background(), "t", []byte("x"))
}
