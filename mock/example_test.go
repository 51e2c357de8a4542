package mock_test

import (
	"context"
	"fmt"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

// rawClient stands in for a realtime client in the examples: it speaks
// the protocol frame by frame over WebSocket. A test gives the real
// client srv.URL() instead.
type rawClient struct{ conn transport.Conn }

func dialRaw(ctx context.Context, url string) (*rawClient, error) {
	conn, err := websocket.Transport{}.Dial(ctx, url, transport.Config{})
	if err != nil {
		return nil, err
	}
	c := &rawClient{conn: conn}
	if err := c.send(ctx, codec.Frame{Type: codec.TypeConnect, Version: 1}); err != nil {
		return nil, err
	}
	_, err = c.until(ctx, codec.TypeHello)
	return c, err
}

func (c *rawClient) send(ctx context.Context, frames ...codec.Frame) error {
	msg, err := codec.JSON{}.Encode(nil, frames...)
	if err != nil {
		return err
	}
	return c.conn.Send(ctx, msg)
}

// until returns the first frame of type typ, skipping the others.
func (c *rawClient) until(ctx context.Context, typ codec.Type) (codec.Frame, error) {
	for {
		msg, err := c.conn.Recv(ctx)
		if err != nil {
			return codec.Frame{}, err
		}
		frames, err := codec.JSON{}.Decode(nil, msg)
		if err != nil {
			return codec.Frame{}, err
		}
		for _, f := range frames {
			if f.Type == typ {
				return f, nil
			}
		}
	}
}

// A test starts a mock server, points its client at URL, and waits for
// what the client published.
func ExampleNewServer() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := dialRaw(ctx, srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.conn.Close()
	_ = c.send(ctx, codec.Frame{Type: codec.TypePublish, Seq: 1, Channel: "chat", Data: []byte("hello")})

	msgs, err := srv.WaitReceived(ctx, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %s\n", msgs[0].Channel, msgs[0].Data)
	// Output: chat: hello
}

// Publish sends a message from the server side to every client subscribed
// to the channel.
func ExampleServer_Publish() {
	srv := mock.NewServer(&mock.Options{Server: server.Config{Heartbeat: time.Second}})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := dialRaw(ctx, srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.conn.Close()
	_ = c.send(ctx, codec.Frame{Type: codec.TypeSubscribe, Seq: 1, Channel: "news"})
	if _, err := c.until(ctx, codec.TypeAck); err != nil { // subscribed
		fmt.Println(err)
		return
	}

	if err := srv.Publish(ctx, "news", []byte("extra! extra!")); err != nil {
		fmt.Println(err)
		return
	}
	m, err := c.until(ctx, codec.TypeMessage)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s #%d: %s\n", m.Channel, m.Seq, m.Data)
	// Output: news #1: extra! extra!
}

// Switches reproduce faults: here every connection is dropped, and the
// test waits until the client has come back.
func ExampleServer_DropConnections() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := dialRaw(ctx, srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.conn.Close()
	_ = srv.WaitConns(ctx, 1)

	srv.DropConnections()
	err = srv.WaitConns(ctx, 0)
	fmt.Println(err, srv.Sessions())
	// Output: <nil> 1
}
