package realtime_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/mock"
)

// A client connects, subscribes and publishes; Publish returns once the
// server has acknowledged the message.
func Example() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := realtime.New(srv.URL(), nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		panic(err)
	}
	got := make(chan string, 1)
	if _, err := c.Subscribe(ctx, "greetings", func(m realtime.Message) { got <- string(m.Data) }); err != nil {
		panic(err)
	}
	if err := c.Publish(ctx, "greetings", []byte("hello")); err != nil {
		panic(err)
	}
	fmt.Println("transport:", c.Transport())
	fmt.Println("received:", <-got)
	// Output:
	// transport: websocket
	// received: hello
}

// The server's refusal of a publish arrives as a *RefusedError with the
// server's code and reason.
func ExampleClient_Publish_refused() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	srv.Nack(func(m mock.Message) (uint16, string) { return 4003, "read-only channel" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, _ := realtime.New(srv.URL(), nil)
	defer c.Close()
	_ = c.Connect(ctx)
	err := c.Publish(ctx, "news", []byte("x"))
	var refused *realtime.RefusedError
	if errors.As(err, &refused) {
		fmt.Println(refused.Code, refused.Reason, refused.Temporary())
	}
	// Output: 4003 read-only channel false
}

// PublishAsync queues without waiting; the Receipt tells when the server
// acknowledged. A publish made before Connect waits in the outbox.
func ExampleClient_PublishAsync() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, _ := realtime.New(srv.URL(), &realtime.Options{Codec: codec.CBOR{}})
	defer c.Close()
	r, _ := c.PublishAsync("telemetry", []byte{0x00, 0xff})
	fmt.Println(r.Status())
	_ = c.Connect(ctx)
	_ = r.Wait(ctx)
	fmt.Println(r.Status())
	// Output:
	// queued
	// acknowledged
}

// OnStateChange sees every transition with its reason, in order.
func ExampleOptions_onStateChange() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	changes := make(chan realtime.StateChange, 16)
	c, _ := realtime.New(srv.URL(), &realtime.Options{OnStateChange: func(ch realtime.StateChange) { changes <- ch }})
	_ = c.Connect(ctx)
	_ = c.Close()
	for range 3 {
		ch := <-changes
		fmt.Printf("%s -> %s: %s\n", ch.From, ch.To, ch.Reason)
	}
	// Output:
	// idle -> connecting: connect called
	// connecting -> connected: connected
	// connected -> closed: closed by the application
}

// Stats is a cheap snapshot to export to any metrics system.
func ExampleClient_Stats() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, _ := realtime.New(srv.URL(), nil)
	defer c.Close()
	_ = c.Connect(ctx)
	for range 3 {
		_ = c.Publish(ctx, "metrics", []byte("x"))
	}
	s := c.Stats()
	fmt.Println(s.Transport, s.Connects, s.Published, s.Acked, s.OutboxCount)
	// Output: websocket 1 3 3 0
}
