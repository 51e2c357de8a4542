// Command hello is the first program of the README: it connects, subscribes
// to a channel, publishes one message, prints it when the server delivers
// it back, and exits. With no argument it starts an in-process mock server;
// give it a server's URL to talk to that one instead.
//
//	go run ./examples/hello
//	go run ./examples/hello http://127.0.0.1:8080
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
)

func main() {
	url := ""
	if len(os.Args) > 1 {
		url = os.Args[1]
	} else {
		srv := mock.NewServer(nil) // a server on 127.0.0.1 that speaks the protocol
		defer srv.Close()
		url = srv.URL()
	}
	if err := run(url); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run(url string) error {
	// Without a deadline, Connect retries an unreachable server for ever.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := realtime.New(url, nil) // no I/O yet
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		return err
	}

	got := make(chan realtime.Message, 1)
	_, err = c.Subscribe(ctx, "chat", func(m realtime.Message) {
		select {
		case got <- m: // the first message is the one we wait for
		default: // a handler must not block for ever: Close waits for it
		}
	})
	if err != nil {
		return err
	}
	// Returns once the server has acknowledged the message, or refused it.
	if err := c.Publish(ctx, "chat", []byte("hello")); err != nil {
		return err
	}
	select {
	case m := <-got:
		fmt.Printf("%s: %s\n", m.Channel, m.Data)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no message back: %w", ctx.Err())
	}
}
