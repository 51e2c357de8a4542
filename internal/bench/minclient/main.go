// Command minclient is the smallest useful program on the SDK: connect,
// subscribe, publish. It exists to measure what the SDK adds to a binary on
// small devices (cmd/realtime-bench builds it for linux/arm and arm64);
// examples/demo embeds the mock server and so overstates that.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"

	"github.com/realtimekit/realtime"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "server base URL")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, err := realtime.New(*url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = c.Subscribe(ctx, "sensors", func(m realtime.Message) { log.Printf("%s", m.Data) })
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Publish(ctx, "sensors", []byte(`{"t":21.5}`)); err != nil {
		log.Fatal(err)
	}
	<-ctx.Done()
}
