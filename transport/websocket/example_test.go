//go:build !js

package websocket_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

func ExampleTransport_Dial() {
	// A server that answers each message in upper case.
	srv := httptest.NewServer(websocket.NewHandler(transport.ServerConfig{
		Accept: func(_ *http.Request, conn transport.Conn) {
			ctx := context.Background()
			for {
				msg, err := conn.Recv(ctx)
				if err != nil {
					return // the client has gone
				}
				if err := conn.Send(ctx, bytes.ToUpper(msg)); err != nil {
					return
				}
			}
		},
	}))
	defer srv.Close()

	// The connection's ctx should outlive it: a Send or Recv whose ctx ends
	// closes the connection.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := websocket.Transport{}.Dial(ctx, srv.URL, transport.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	if err := conn.Send(ctx, []byte(`{"t":"hello"}`)); err != nil {
		log.Fatal(err)
	}
	reply, err := conn.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))
	// Output: {"T":"HELLO"}
}

func BenchmarkWebSocketRoundTrip(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			srv := echoServer(b, nil)
			c := dial(b, srv.URL, transport.Config{})
			msg := []byte(strings.Repeat("x", size))
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Recv(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
