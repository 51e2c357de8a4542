package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/server/internal/clustertest"
	"github.com/realtimekit/realtime/server/internal/memcluster"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// A msg carries the server's timestamp, taken within the publish, the
// publisher's identity from Authenticate, and the publisher's header as
// sent; OnPublish sees the header too.
func TestMessageMetadata(t *testing.T) {
	hooked := make(chan map[string]string, 1)
	_, url := start(t, server.Config{
		Authenticate: bearer,
		OnPublish: func(_ context.Context, p server.Publication) error {
			hooked <- p.Header
			return nil
		},
	})
	ann, bob := dialAs(t, url, "ann"), dialAs(t, url, "bob")
	ann.connect("", "", 0)
	bob.connect("", "", 0)
	ann.send(sub(1, "room"))
	ann.ack(1)
	h := map[string]string{"traceparent": traceparent, "k": "v"}
	p := pub(1, "room", "hi")
	p.Header = h
	before := time.Now().UnixMilli()
	bob.send(p)
	bob.ack(1)
	after := time.Now().UnixMilli()
	m := ann.expect(codec.TypeMessage)
	if string(m.Data) != "hi" || m.From != "bob" {
		t.Errorf("msg %+v, want data hi from bob", m)
	}
	if ts := int64(m.Time); ts < before || ts > after {
		t.Errorf("ts %d, want within [%d, %d]", ts, before, after)
	}
	if len(m.Header) != 2 || m.Header["traceparent"] != traceparent || m.Header["k"] != "v" {
		t.Errorf("header %v, want %v", m.Header, h)
	}
	if got := recvWithin(t, hooked); got["traceparent"] != traceparent {
		t.Errorf("OnPublish saw header %v", got)
	}
}

// A publish from the backend carries a timestamp and no identity; an
// unnamed identity (no Authenticate) and no header send neither key.
func TestMessageMetadataAbsent(t *testing.T) {
	srv, url := start(t, server.Config{})
	c, _ := open(t, url)
	c.send(sub(1, "room"), pub(2, "room", "x"))
	m := c.expectPastAcks(codec.TypeMessage)
	if m.From != "" || m.Header != nil || m.Time == 0 {
		t.Errorf("client msg %+v: want no from, no header, a ts", m)
	}
	before := time.Now().UnixMilli()
	if err := srv.Publish(ctxWait(t), "room", []byte("backend")); err != nil {
		t.Fatal(err)
	}
	m = c.expectPastAcks(codec.TypeMessage)
	if string(m.Data) != "backend" || m.From != "" || m.Header != nil || int64(m.Time) < before || int64(m.Time) > time.Now().UnixMilli() {
		t.Errorf("backend msg %+v: want a ts within the call, no from, no header", m)
	}
}

// A publish whose header is over the bounds, sent as is, is nacked with
// 4011 and never delivered; the connection goes on.
func TestHeaderBoundsNacked(t *testing.T) {
	_, url := start(t, server.Config{})
	c, _ := open(t, url)
	many := make(map[string]string)
	for i := range 17 {
		many["k"+strconv.Itoa(i)] = ""
	}
	c.send(sub(1, "room"))
	c.ack(1)
	bad := []map[string]string{many, {"k": strings.Repeat("v", 4096)}, {"": "v"}}
	for i, h := range bad {
		p := pub(uint64(i+2), "room", "x")
		p.Header = h
		c.send(p)
		n := c.expectPastAcks(codec.TypeNack)
		if n.Ref != uint64(i+2) || n.Code != 4011 || strings.Contains(n.Reason, "vvvv") {
			t.Errorf("header %d: nack %+v, want ref %d, code 4011, no header in the reason", i, n, i+2)
		}
	}
	ok := pub(uint64(len(bad)+2), "room", "fine")
	ok.Header = map[string]string{"k": strings.Repeat("v", 4095)}
	c.send(ok)
	if m := c.expectPastAcks(codec.TypeMessage); string(m.Data) != "fine" || len(m.Header["k"]) != 4095 {
		t.Errorf("got %+v, want the publish within the bounds", m)
	}
}

// Through the Go client and a log broker of several nodes: the header set
// on PublishMessage, the publisher's identity and the server's time reach
// the subscriber's Message on another node.
func TestMessageMetadataAcrossNodes(t *testing.T) {
	eng := memcluster.New()
	var nodes [2]*server.Server
	for i := range nodes {
		bkr := eng.Node()
		nodes[i] = server.New(server.Config{Broker: bkr, Sessions: eng.Sessions(), Authenticate: bearer})
		srv := nodes[i]
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			_ = srv.Close(ctx)
			_ = bkr.Close(context.Background())
		})
	}
	ta, tb := httptest.NewServer(nodes[0]), httptest.NewServer(nodes[1])
	defer ta.Close()
	defer tb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	connect := func(url, user string) *realtime.Client {
		cl, err := realtime.New(url, &realtime.Options{
			Transports: clustertest.Transports("websocket"),
			Header:     http.Header{"Authorization": {"Bearer " + user}},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cl.Close() })
		if err := cl.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	subscriber, publisher := connect(ta.URL, "ann"), connect(tb.URL, "bob")
	got := make(chan realtime.Message, 1)
	if _, err := subscriber.Subscribe(ctx, "c", func(m realtime.Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Truncate(time.Millisecond)
	err := publisher.PublishMessage(ctx, realtime.Message{Channel: "c", Data: []byte("x"), Header: map[string]string{"traceparent": traceparent}})
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	select {
	case m := <-got:
		if m.From != "bob" || m.Header["traceparent"] != traceparent || m.Time.Before(before) || m.Time.After(after) {
			t.Errorf("got from %q header %v time %v, want bob, the traceparent, within [%v, %v]", m.From, m.Header, m.Time, before, after)
		}
	case <-ctx.Done():
		t.Fatal("not delivered")
	}
	// And the client refuses a header over the bounds before sending it.
	big := map[string]string{"k": strings.Repeat("v", 4097)}
	if err := publisher.PublishMessage(ctx, realtime.Message{Channel: "c", Header: big}); !errors.Is(err, realtime.ErrInvalidHeader) {
		t.Errorf("publish of a 4,098-byte header: %v, want ErrInvalidHeader", err)
	}
}

// expectPastAcks is expect for a frame that acks may come before.
func (c *client) expectPastAcks(typ codec.Type) codec.Frame {
	c.t.Helper()
	for {
		f := c.nextData()
		if f.Type == typ {
			return f
		}
		if f.Type != codec.TypeAck {
			c.t.Fatalf("got %s frame %+v, want %s", f.Type, f, typ)
		}
	}
}

// Headers count towards SessionBytes: a subscriber that does not
// acknowledge messages of one byte with 3 KiB headers is a slow consumer
// once 8 KiB of them are kept.
func TestHeadersCountTowardsSessionBytes(t *testing.T) {
	_, url := start(t, server.Config{SessionBytes: 8 << 10})
	slow, _ := open(t, url)
	slow.send(sub(1, "room"))
	slow.ack(1)
	pubr, _ := open(t, url)
	for i := range 3 {
		p := pub(uint64(i+1), "room", "x")
		p.Header = map[string]string{"k": strings.Repeat("v", 3<<10)}
		pubr.send(p)
	}
	for {
		switch f := slow.nextData(); f.Type {
		case codec.TypeMessage, codec.TypeAck:
			continue
		case codec.TypeError:
			if f.Code != 4503 {
				t.Fatalf("error %d %q, want 4503", f.Code, f.Reason)
			}
			return
		default:
			t.Fatalf("got a %s frame, want msg frames then error 4503", f.Type)
		}
	}
}
