package server_test

import (
	"bytes"
	"testing"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
	"github.com/realtimekit/realtime/transport/sse"
	"github.com/realtimekit/realtime/transport/websocket"
)

// TestEveryTransport runs a session's life over each transport and codec:
// hello, subscribe, publish to itself, receive, drop, resume with replay.
func TestEveryTransport(t *testing.T) {
	for _, tr := range []transport.Transport{websocket.Transport{}, sse.Transport{}, longpoll.Transport{}} {
		for _, cd := range []string{"json", "cbor"} {
			t.Run(tr.Name()+"/"+cd, func(t *testing.T) {
				srv, url := start(t, server.Config{})
				c := dialWith(t, tr, url, cd)
				h := c.connect("", "", 0)
				c.send(sub(1, "c"))
				c.ack(1)
				payload := []byte{0xff, 'x', 0}
				c.send(codec.Frame{Type: codec.TypePublish, Seq: 2, Channel: "c", Data: payload})
				var gotMsg, gotAck bool
				for !gotMsg || !gotAck {
					switch f := c.nextData(); f.Type {
					case codec.TypeMessage:
						gotMsg = f.Seq == 1 && bytes.Equal(f.Data, payload)
					case codec.TypeAck:
						gotAck = f.Ack == 2
					}
				}
				_ = c.conn.Close()
				if err := srv.Publish(ctxWait(t), "c", []byte("later")); err != nil {
					t.Fatal(err)
				}
				c2 := dialWith(t, tr, url, cd)
				h2 := c2.connect(h.Session, h.Token, 1)
				if !h2.Resumed || h2.Ack != 2 {
					t.Fatalf("hello %+v", h2)
				}
				if m := c2.expect(codec.TypeMessage); m.Seq != 2 || string(m.Data) != "later" {
					t.Fatalf("replay %+v", m)
				}
				c2.ack(2)
			})
		}
	}
}
