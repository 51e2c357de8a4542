package realtime_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
)

// Two subscriptions on one channel each see every message; ending one
// leaves the other receiving.
func ExampleSubscription() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, _ := realtime.New(srv.URL(), nil)
	defer c.Close()
	_ = c.Connect(ctx)
	audit, log := make(chan string, 4), make(chan string, 4)
	a, err := c.Subscribe(ctx, "orders", func(m realtime.Message) { audit <- string(m.Data) })
	if err != nil {
		panic(err)
	}
	_, _ = c.Subscribe(ctx, "orders", func(m realtime.Message) { log <- string(m.Data) })
	_ = srv.Publish(ctx, "orders", []byte("order 1"))
	fmt.Println("audit:", <-audit, "| log:", <-log)

	_ = a.Unsubscribe(ctx) // the other subscription keeps the channel
	_ = srv.Publish(ctx, "orders", []byte("order 2"))
	fmt.Println("log:", <-log)
	// Output:
	// audit: order 1 | log: order 1
	// log: order 2
}

// A subscription made with a nil handler is read with a range loop; each
// message is acknowledged when the loop body moves on, and leaving the
// loop ends the subscription.
func ExampleSubscription_Messages() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, _ := realtime.New(srv.URL(), nil)
	defer c.Close()
	_ = c.Connect(ctx)
	sub, err := c.Subscribe(ctx, "jobs", nil)
	if err != nil {
		panic(err)
	}
	go func() {
		for _, job := range []string{"resize", "encode", "stop"} {
			_ = srv.Publish(ctx, "jobs", []byte(job))
		}
	}()
	for m, err := range sub.Messages(ctx) {
		if err != nil {
			fmt.Println("ended:", err)
			break
		}
		if string(m.Data) == "stop" {
			break
		}
		fmt.Println("job:", string(m.Data))
	}
	// Output:
	// job: resize
	// job: encode
}

// Drain finishes what is in flight, then closes; a deadline bounds it.
func ExampleClient_Drain() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, _ := realtime.New(srv.URL(), nil)
	_ = c.Connect(ctx)
	var receipts []*realtime.Receipt
	for i := range 100 {
		r, _ := c.PublishAsync("readings", fmt.Appendf(nil, "%d", i))
		receipts = append(receipts, r)
	}
	// A program asked to stop gives its publishes 5 seconds.
	stop, cancelStop := context.WithTimeout(ctx, 5*time.Second)
	defer cancelStop()
	err := c.Drain(stop)
	var de *realtime.DrainError
	if errors.As(err, &de) {
		fmt.Println(de.Remaining, "publishes were not acknowledged")
	}
	fmt.Println(err, receipts[99].Status(), c.State())
	_, err = c.PublishAsync("readings", nil)
	fmt.Println(err)
	// Output:
	// <nil> acknowledged closed
	// realtime: client closed
}

// ReceiptStatus says where a publish stands; String gives its name.
func ExampleReceiptStatus() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, _ := realtime.New(srv.URL(), nil)
	defer c.Close()
	r, _ := c.PublishAsync("telemetry", []byte("42"))
	fmt.Println(r.Status(), r.Status().Done())
	_ = c.Connect(ctx)
	_ = r.Wait(ctx)
	switch s := r.Status(); s {
	case realtime.ReceiptAcknowledged:
		fmt.Println(s, s.Done())
	case realtime.ReceiptRefused, realtime.ReceiptFailed:
		fmt.Println("not delivered:", r.Err())
	}
	// Output:
	// queued false
	// acknowledged true
}
