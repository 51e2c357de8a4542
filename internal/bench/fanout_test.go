package bench

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/server"
)

// fanOutSubs is the number of subscribers of the fan-out benchmark.
const fanOutSubs = 1000

// BenchmarkFanOut: one publisher (the backend, through Server.Publish) to
// 1,000 subscribers on one node, beside a raw coder/websocket broadcast
// loop to as many plain WebSocket clients. The subscribers are minimal
// protocol clients (connect, sub, acks) so that the numbers are the
// server's. Unpaced, the publisher goes as fast as Publish returns (the
// server's returns once the message is kept for every session, the raw
// loop's once written to every connection), so the latencies include the
// queue a burst builds; paced, they are a message's. Reported: delivered messages/s, publish→delivery p50 and p99,
// and the bytes of heap per connection (client and server ends together,
// both runs alike) with the connections per GiB it gives.
func BenchmarkFanOut(b *testing.B) {
	b.Run("server", func(b *testing.B) { fanOut(b, newServerFanRig, 0) })
	b.Run("raw-websocket", func(b *testing.B) { fanOut(b, newRawFanRig, 0) })
	// At 50 publishes/s (50,000 deliveries/s), well within both, the
	// latencies are those of a message, not of a queue behind a burst.
	b.Run("server-50/s", func(b *testing.B) { fanOut(b, newServerFanRig, 20*time.Millisecond) })
	b.Run("raw-websocket-50/s", func(b *testing.B) { fanOut(b, newRawFanRig, 20*time.Millisecond) })
}

// fanRig is a server with subscribers and a way to publish to all.
type fanRig struct {
	publish func(ctx context.Context, msg []byte) error
	close   func()
}

// collector records each delivery's latency from every subscriber.
type collector struct {
	mu   sync.Mutex
	lat  *Latencies
	n    int
	want int
	done chan struct{}
}

func (c *collector) add(p []byte) {
	d, err := Since(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.lat.Add(d)
	}
	c.n++
	if c.n == c.want {
		close(c.done)
	}
}

func fanOut(b *testing.B, newRig func(ctx context.Context, b *testing.B, col *collector) *fanRig, interval time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	col := &collector{done: make(chan struct{})}
	before, _ := liveBytes()
	rig := newRig(ctx, b, col)
	defer rig.close()
	after, _ := liveBytes()
	perConn := float64(after-before) / fanOutSubs

	b.ResetTimer()
	col.mu.Lock()
	col.lat, col.want = NewLatencies(b.N*fanOutSubs), b.N*fanOutSubs
	col.mu.Unlock()
	start := time.Now()
	var tick *time.Ticker
	if interval > 0 {
		tick = time.NewTicker(interval)
		defer tick.Stop()
	}
	for range b.N {
		if tick != nil {
			<-tick.C
		}
		if err := rig.publish(ctx, Payload(64)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-col.done:
	case <-ctx.Done():
		b.Fatalf("%d of %d deliveries", col.n, col.want)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*fanOutSubs)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(Micros(col.lat.Percentile(50)), "p50-µs")
	b.ReportMetric(Micros(col.lat.Percentile(99)), "p99-µs")
	b.ReportMetric(perConn, "heap-B/conn")
	b.ReportMetric(float64(1<<30)/perConn, "conns/GiB")
}

func newServerFanRig(ctx context.Context, b *testing.B, col *collector) *fanRig {
	srv := server.New(server.Config{PublishRate: -1})
	hs, err := Serve(srv)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, 0, fanOutSubs)
	for range fanOutSubs {
		c, _, err := websocket.Dial(ctx, strings.Replace(hs.URL, "http", "ws", 1)+"/ws?v=1&codec=json", nil)
		if err != nil {
			b.Fatal(err)
		}
		c.SetReadLimit(readLimit)
		if err := subscribeRaw(ctx, c); err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		wg.Go(func() { readAcking(c, col) })
	}
	return &fanRig{
		publish: func(ctx context.Context, msg []byte) error { return srv.Publish(ctx, "fan", msg) },
		close: func() {
			for _, c := range conns {
				_ = c.CloseNow()
			}
			wg.Wait()
			_ = srv.Close(context.Background())
			hs.Close()
		},
	}
}

// subscribeRaw speaks the protocol's start by hand: connect, then a
// subscribe to "fan", waiting for its ack.
func subscribeRaw(ctx context.Context, c *websocket.Conn) error {
	cd := codec.JSON{}
	send := func(f codec.Frame) error {
		msg, err := cd.Encode(nil, f)
		if err != nil {
			return err
		}
		return c.Write(ctx, websocket.MessageText, msg)
	}
	if err := send(codec.Frame{Type: codec.TypeConnect, Version: 1}); err != nil {
		return err
	}
	if err := send(codec.Frame{Type: codec.TypeSubscribe, Seq: 1, Channel: "fan"}); err != nil {
		return err
	}
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			return err
		}
		frames, err := cd.Decode(nil, msg)
		if err != nil {
			return err
		}
		for _, f := range frames {
			if f.Type == codec.TypeAck && f.Ack >= 1 {
				return nil
			}
		}
	}
}

// readAcking records each msg frame and acknowledges each message's last
// one, as a client must for the window to stay open.
func readAcking(c *websocket.Conn, col *collector) {
	cd := codec.JSON{}
	var frames []codec.Frame
	for {
		_, msg, err := c.Read(context.Background())
		if err != nil {
			return
		}
		frames, err = cd.Decode(frames[:0], msg)
		if err != nil {
			return
		}
		var last uint64
		for _, f := range frames {
			if f.Type == codec.TypeMessage {
				col.add(f.Data)
				last = f.Seq
			}
		}
		if last > 0 {
			ack, _ := cd.Encode(nil, codec.Frame{Type: codec.TypeAck, Ack: last})
			if c.Write(context.Background(), websocket.MessageText, ack) != nil {
				return
			}
		}
	}
}

// rawBroadcaster is the baseline: every accepted WebSocket gets each
// message, written by one loop.
type rawBroadcaster struct {
	mu    sync.Mutex
	conns []*websocket.Conn
	held  sync.WaitGroup
	stop  chan struct{}
}

func (rb *rawBroadcaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, ok := accept(w, r)
	if !ok {
		return
	}
	rb.held.Add(1)
	defer rb.held.Done()
	rb.mu.Lock()
	rb.conns = append(rb.conns, c)
	rb.mu.Unlock()
	c.CloseRead(context.Background())
	<-rb.stop
	_ = c.CloseNow()
}

func (rb *rawBroadcaster) broadcast(ctx context.Context, msg []byte) error {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	for _, c := range rb.conns {
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			return err
		}
	}
	return nil
}

func newRawFanRig(ctx context.Context, b *testing.B, col *collector) *fanRig {
	rb := &rawBroadcaster{stop: make(chan struct{})}
	hs, err := Serve(rb)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, 0, fanOutSubs)
	for range fanOutSubs {
		c, _, err := websocket.Dial(ctx, strings.Replace(hs.URL, "http", "ws", 1), nil)
		if err != nil {
			b.Fatal(err)
		}
		c.SetReadLimit(readLimit)
		conns = append(conns, c)
		wg.Go(func() {
			for {
				_, msg, err := c.Read(context.Background())
				if err != nil {
					return
				}
				col.add(msg)
			}
		})
	}
	for { // every connection registered before the clock starts
		rb.mu.Lock()
		n := len(rb.conns)
		rb.mu.Unlock()
		if n == fanOutSubs {
			break
		}
		runtime.Gosched()
	}
	return &fanRig{
		publish: rb.broadcast,
		close: func() {
			close(rb.stop)
			for _, c := range conns {
				_ = c.CloseNow()
			}
			wg.Wait()
			rb.held.Wait()
			hs.Close()
		},
	}
}
