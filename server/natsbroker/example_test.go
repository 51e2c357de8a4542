package natsbroker_test

import (
	"context"
	"fmt"
	"os"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/server/natsbroker"
)

// Two nodes share one embedded JetStream server: a publication on one is
// delivered on the other with its log position, and a session record
// written by one is read by the other.
func Example() {
	dir, _ := os.MkdirTemp("", "natsbroker-example")
	defer os.RemoveAll(dir)
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true})
	if err != nil {
		panic(err)
	}
	go ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !ns.ReadyForConnections(10 * time.Second) {
		panic("nats-server not ready")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var conns []*nats.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	node := func() *natsbroker.Cluster {
		nc, err := nats.Connect(ns.ClientURL())
		if err != nil {
			panic(err)
		}
		conns = append(conns, nc)
		c, err := natsbroker.New(ctx, nc, natsbroker.Options{})
		if err != nil {
			panic(err)
		}
		return c
	}
	a, b := node(), node()
	defer a.Close(ctx)
	defer b.Close(ctx)

	got := make(chan server.Message, 1)
	_ = b.Subscribe(ctx, "news", func(m server.Message) { got <- m })
	if err := a.Publish(ctx, server.Message{Channel: "news", Data: []byte("hello"), ID: "s1:1"}); err != nil {
		panic(err)
	}
	m := <-got
	fmt.Printf("%s at position %d\n", m.Data, m.Pos)

	rec := &server.SessionRecord{ID: "S1", Owner: "alice", Pos: m.Pos}
	_ = a.Sessions().Create(ctx, rec)
	loaded, _ := b.Sessions().Load(ctx, "S1")
	fmt.Println(loaded.Owner, loaded.Pos, b.Healthy() == nil)
	// Output:
	// hello at position 1
	// alice 1 true
}
