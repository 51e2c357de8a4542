package realtime_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/server"
)

// PublishMessage sends a header with the payload, such as the W3C trace
// context of the span that published it; the subscriber receives it with
// the server's timestamp and the publisher's identity.
func ExampleClient_PublishMessage() {
	srv := mock.NewServer(&mock.Options{Server: server.Config{
		Authenticate: func(r *http.Request) (server.Identity, error) {
			return server.Identity{ID: r.Header.Get("X-User")}, nil // a real server checks a token
		},
	}})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := realtime.New(srv.URL(), &realtime.Options{Header: http.Header{"X-User": {"ada"}}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		panic(err)
	}
	got := make(chan realtime.Message, 1)
	if _, err := c.Subscribe(ctx, "orders", func(m realtime.Message) { got <- m }); err != nil {
		panic(err)
	}
	err = c.PublishMessage(ctx, realtime.Message{
		Channel: "orders",
		Data:    []byte(`{"id":42}`),
		Header:  map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	})
	if err != nil {
		panic(err)
	}
	m := <-got
	fmt.Println("data:", string(m.Data))
	fmt.Println("from:", m.From)
	fmt.Println("traceparent:", m.Header["traceparent"])
	fmt.Println("stamped by the server:", !m.Time.IsZero())
	// Output:
	// data: {"id":42}
	// from: ada
	// traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	// stamped by the server: true
}
