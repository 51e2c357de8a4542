package sse_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/sse"
)

// echo is a server whose connections send back what they receive.
func echo(b *testing.B) (*httptest.Server, transport.Conn) {
	srv := httptest.NewServer(sse.NewHandler(transport.ServerConfig{Accept: func(r *http.Request, c transport.Conn) {
		for {
			msg, err := c.Recv(r.Context())
			if err != nil || c.Send(r.Context(), msg) != nil {
				return
			}
		}
	}}))
	b.Cleanup(srv.Close)
	c, err := sse.Transport{}.Dial(context.Background(), srv.URL, transport.Config{HTTPClient: srv.Client()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return srv, c
}

var benchMsg = []byte(`{"t":"pub","s":1,"c":"chat","d":"hello, world"}`)

// BenchmarkSSERoundTrip is one message up (a POST) and its echo down (an
// event), one at a time: the latency of the transport.
func BenchmarkSSERoundTrip(b *testing.B) {
	_, c := echo(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Send(ctx, benchMsg); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSSEPipelined sends while it receives: what batching the POSTs
// buys in throughput.
func BenchmarkSSEPipelined(b *testing.B) {
	_, c := echo(b)
	ctx := context.Background()
	b.ReportAllocs()
	errc := make(chan error, 1)
	go func() {
		for range b.N {
			if _, err := c.Recv(ctx); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for range b.N {
		if err := c.Send(ctx, benchMsg); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}
