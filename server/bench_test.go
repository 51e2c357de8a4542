package server_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

// BenchmarkDelivery measures server-side publishes reaching one WebSocket
// subscriber that acks every 256 messages, as the writer batches them.
func BenchmarkDelivery(b *testing.B) {
	for _, name := range []string{"json", "cbor"} {
		b.Run(name, func(b *testing.B) {
			srv := server.New(server.Config{})
			ts := httptest.NewServer(srv)
			defer ts.Close()
			defer srv.Close(context.Background())
			ctx := context.Background()
			cd := codec.ByName(name)
			conn, err := websocket.Transport{}.Dial(ctx, ts.URL, transport.Config{Codec: name, Binary: cd.Binary()})
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			send := func(frames ...codec.Frame) {
				msg, _ := cd.Encode(nil, frames...)
				if err := conn.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
			var frames []codec.Frame
			recvUntil := func(done func(codec.Frame) bool) {
				for {
					msg, err := conn.Recv(ctx)
					if err != nil {
						b.Fatal(err)
					}
					frames, _ = cd.Decode(frames[:0], msg)
					for _, f := range frames {
						if done(f) {
							return
						}
					}
				}
			}
			send(codec.Frame{Type: codec.TypeConnect, Version: 1}, sub(1, "bench"))
			recvUntil(func(f codec.Frame) bool { return f.Type == codec.TypeAck })

			// The publisher stays within the session buffer, as a server
			// publishing faster than a client reads would end its session.
			payload := bytes.Repeat([]byte("x"), 64)
			credits := make(chan struct{}, 16)
			for range cap(credits) {
				credits <- struct{}{}
			}
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			published := make(chan struct{})
			go func() {
				defer close(published)
				for i := range b.N {
					if i%256 == 0 {
						<-credits
					}
					_ = srv.Publish(ctx, "bench", payload)
				}
			}()
			var got uint64
			recvUntil(func(f codec.Frame) bool {
				if f.Type == codec.TypeMessage {
					got = f.Seq
					if got%256 == 0 {
						send(codec.Frame{Type: codec.TypeAck, Ack: got})
						select {
						case credits <- struct{}{}:
						default:
						}
					}
				}
				return got == uint64(b.N)
			})
			<-published
		})
	}
}
