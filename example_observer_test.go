package realtime_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
)

// An Observer sees each publish, its acknowledgement with the time it
// took, and each delivery with its handler's duration; an adapter turns
// them into metrics or spans (see the metrics/ modules).
func ExampleObserver() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var mu sync.Mutex // Observe runs on several goroutines
	seen := map[realtime.EventKind]int{}
	done := make(chan struct{}) // closed once acked and delivered
	obs := realtime.ObserverFunc(func(e realtime.Event) {
		mu.Lock()
		defer mu.Unlock()
		seen[e.Kind]++
		if e.Kind == realtime.EventAck && e.Latency <= 0 {
			fmt.Println("an ack without its latency")
		}
		if (e.Kind == realtime.EventAck || e.Kind == realtime.EventDeliver) &&
			seen[realtime.EventAck] == 1 && seen[realtime.EventDeliver] == 1 {
			close(done)
		}
	})
	c, err := realtime.New(srv.URL(), &realtime.Options{Observer: obs})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		panic(err)
	}
	if _, err := c.Subscribe(ctx, "news", func(realtime.Message) {}); err != nil {
		panic(err)
	}
	if err := c.Publish(ctx, "news", []byte("hello")); err != nil {
		panic(err)
	}
	<-done

	mu.Lock()
	defer mu.Unlock()
	for _, k := range []realtime.EventKind{realtime.EventConnect, realtime.EventPublish, realtime.EventAck, realtime.EventDeliver} {
		fmt.Println(k, seen[k])
	}
	// Output:
	// connect 1
	// publish 1
	// ack 1
	// deliver 1
}
