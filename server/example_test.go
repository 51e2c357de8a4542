package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/server"
)

// A backend mounts the server under a path of its own mux and publishes
// to the clients subscribed to a channel.
func Example() {
	srv := server.New(server.Config{})
	mux := http.NewServeMux()
	mux.Handle("/realtime/", srv)
	ts := httptest.NewServer(mux) // in production: your http.Server
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer srv.Close(ctx) // drains: clients are told to come back later

	client, _ := realtime.New(ts.URL+"/realtime", nil)
	defer client.Close()
	got := make(chan realtime.Message, 1)
	if err := client.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := client.Subscribe(ctx, "news", func(m realtime.Message) { got <- m }); err != nil {
		fmt.Println(err)
		return
	}

	_ = srv.Publish(ctx, "news", []byte("hello from the backend"))
	m := <-got
	fmt.Printf("%s: %s\n", m.Channel, m.Data)
	// Output: news: hello from the backend
}

// Authenticate names the client from its handshake; Authorize decides per
// channel. A refusal reaches the Go client as a *realtime.RefusedError.
func ExampleConfig_authorize() {
	srv := server.New(server.Config{
		Authenticate: func(r *http.Request) (server.Identity, error) {
			user, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer user:")
			if !ok {
				return server.Identity{}, errors.New("no token") // HTTP 401
			}
			return server.Identity{ID: user}, nil
		},
		Authorize: func(_ context.Context, a server.Access) error {
			// Everyone reads "lobby"; each user owns "user:<id>".
			if a.Channel == "lobby" && a.Action == server.Subscribe || a.Channel == "user:"+a.Client.Identity.ID {
				return nil
			}
			return &server.Refusal{Code: 4003, Reason: "not your channel"}
		},
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer srv.Close(ctx)

	client, _ := realtime.New(ts.URL, &realtime.Options{
		Token: func(context.Context) (string, error) { return "user:ann", nil },
	})
	defer client.Close()
	if err := client.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("own channel:", client.Publish(ctx, "user:ann", []byte("hi")))
	var refused *realtime.RefusedError
	if err := client.Publish(ctx, "user:bob", []byte("hi")); errors.As(err, &refused) {
		fmt.Println("other's channel:", refused.Code, refused.Reason)
	}
	// Output:
	// own channel: <nil>
	// other's channel: 4003 not your channel
}

// OnPublish sees each client publish once, even when the client resends it
// after a lost connection, and may refuse it.
func ExampleConfig_onPublish() {
	stored := make(chan string, 1)
	srv := server.New(server.Config{
		OnPublish: func(_ context.Context, p server.Publication) error {
			if len(p.Data) == 0 {
				return &server.Refusal{Code: 4100, Reason: "empty message"}
			}
			stored <- string(p.Data) // persist it: p.Data is the server's
			return nil
		},
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer srv.Close(ctx)

	client, _ := realtime.New(ts.URL, nil)
	defer client.Close()
	if err := client.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	_ = client.Publish(ctx, "chat", []byte("saved"))
	fmt.Println(<-stored)
	fmt.Println(client.Publish(ctx, "chat", nil) != nil)
	// Output:
	// saved
	// true
}
