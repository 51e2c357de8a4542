package bench

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// rawRig is the raw counterpart of sdkRig: one server, one client-side
// HTTP transport, one deadline.
type rawRig struct {
	url string
	hc  *http.Client
	ctx context.Context
}

func newRawRig(tb testing.TB, h http.Handler) *rawRig {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	tb.Cleanup(cancel)
	s, err := Serve(h)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	ht := http.DefaultTransport.(*http.Transport).Clone()
	tb.Cleanup(ht.CloseIdleConnections)
	return &rawRig{url: s.URL, hc: &http.Client{Transport: ht}, ctx: ctx}
}

func (r *rawRig) dial(tb testing.TB) *websocket.Conn {
	tb.Helper()
	c, _, err := websocket.Dial(r.ctx, r.url, &websocket.DialOptions{HTTPClient: r.hc})
	if err != nil {
		tb.Fatal(err)
	}
	c.SetReadLimit(readLimit)
	tb.Cleanup(func() { c.CloseNow() })
	return c
}

// feed sends b.N stamped payloads into msgs and closes it; paced, it
// waits for each to arrive before the next, for latency.
func feed(ctx context.Context, n, size int, msgs chan<- []byte, paced <-chan struct{}) {
	defer close(msgs)
	for range n {
		p := Payload(size)
		select {
		case msgs <- p:
		case <-ctx.Done():
			return
		}
		if paced != nil {
			select {
			case <-paced:
			case <-ctx.Done():
				return
			}
		}
	}
}

func BenchmarkRaw(b *testing.B) {
	for _, size := range sizes {
		sz := strconv.Itoa(size)
		b.Run("ws-oneway/"+sz, func(b *testing.B) { rawWSOneWay(b, size) })
		b.Run("ws-oneway-lat/"+sz, func(b *testing.B) { rawWSOneWayLatency(b, size) })
		b.Run("ws-echo/"+sz, func(b *testing.B) { rawWSEcho(b, size) })
		b.Run("ws-ack64/"+sz, func(b *testing.B) { rawWSAck(b, size, 64) })
		b.Run("sse/"+sz, func(b *testing.B) { rawSSE(b, size, false) })
		b.Run("sse-lat/"+sz, func(b *testing.B) { rawSSE(b, size, true) })
		b.Run("longpoll/"+sz, func(b *testing.B) { rawLongPoll(b, size, false) })
		b.Run("longpoll-lat/"+sz, func(b *testing.B) { rawLongPoll(b, size, true) })
		b.Run("post/"+sz, func(b *testing.B) { rawPost(b, size) })
	}
}

func rawWSOneWay(b *testing.B, size int) {
	r := newRawRig(b, WSSink(nil))
	c := r.dial(b)
	p := Payload(size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		if err := c.Write(r.ctx, websocket.MessageText, p); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.Write(r.ctx, websocket.MessageText, Fin); err != nil {
		b.Fatal(err)
	}
	if _, _, err := c.Read(r.ctx); err != nil {
		b.Fatal(err)
	}
	reportRate(b)
}

// rawWSOneWayLatency paces the writer on an in-process signal from the
// reader, so that the latency has no queueing in it, as in the SDK's.
func rawWSOneWayLatency(b *testing.B, size int) {
	arrived := make(chan time.Duration, 1)
	r := newRawRig(b, WSSink(func(m []byte) {
		d, _ := Since(m)
		arrived <- d
	}))
	c := r.dial(b)
	p := Payload(size)
	lat := NewLatencies(b.N)
	b.ResetTimer()
	for range b.N {
		Stamp(p)
		if err := c.Write(r.ctx, websocket.MessageText, p); err != nil {
			b.Fatal(err)
		}
		select {
		case d := <-arrived:
			lat.Add(d)
		case <-r.ctx.Done():
			b.Fatal(r.ctx.Err())
		}
	}
	reportRate(b)
	reportLatency(b, lat)
}

func rawWSEcho(b *testing.B, size int) {
	r := newRawRig(b, WSEcho())
	c := r.dial(b)
	p := Payload(size)
	lat := NewLatencies(b.N)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := c.Write(r.ctx, websocket.MessageText, p); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(r.ctx); err != nil {
			b.Fatal(err)
		}
		lat.Add(time.Since(t0))
	}
	reportRate(b)
	reportLatency(b, lat)
}

// rawWSAck keeps at most window messages unacknowledged, the hand-written
// equivalent of the SDK's acked, pipelined publish.
func rawWSAck(b *testing.B, size, window int) {
	r := newRawRig(b, WSAcker())
	c := r.dial(b)
	p := Payload(size)
	slots := make(chan struct{}, window)
	acked := make(chan error, 1)
	b.SetBytes(int64(size))
	b.ResetTimer()
	go func() {
		for range b.N {
			if _, _, err := c.Read(r.ctx); err != nil {
				acked <- err
				return
			}
			<-slots
		}
		acked <- nil
	}()
	for range b.N {
		select {
		case slots <- struct{}{}:
		case <-r.ctx.Done():
			b.Fatal(r.ctx.Err())
		}
		if err := c.Write(r.ctx, websocket.MessageText, p); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-acked; err != nil {
		b.Fatal(err)
	}
	reportRate(b)
}

func rawSSE(b *testing.B, size int, paced bool) {
	msgs := make(chan []byte, deliverWindow)
	r := newRawRig(b, SSE(msgs))
	var pace chan struct{}
	if paced {
		pace = make(chan struct{}, 1)
	}
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, r.url, nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	lat := NewLatencies(b.N)
	b.SetBytes(int64(size))
	b.ResetTimer()
	go feed(r.ctx, b.N, size, msgs, pace)
	got := 0
	err = ReadSSE(resp.Body, func(d []byte) bool {
		if paced {
			dt, _ := Since(d)
			lat.Add(dt)
			pace <- struct{}{}
		}
		got++
		return got < b.N
	})
	if err != nil || got != b.N {
		b.Fatalf("%d of %d events: %v", got, b.N, err)
	}
	reportRate(b)
	if paced {
		reportLatency(b, lat)
	}
}

func rawLongPoll(b *testing.B, size int, paced bool) {
	msgs := make(chan []byte, deliverWindow)
	r := newRawRig(b, LongPoll(msgs, 5*time.Second))
	var pace chan struct{}
	if paced {
		pace = make(chan struct{}, 1)
	}
	lat := NewLatencies(b.N)
	b.SetBytes(int64(size))
	b.ResetTimer()
	go feed(r.ctx, b.N, size, msgs, pace)
	got := 0
	for got < b.N {
		_, err := Poll(r.ctx, r.hc, r.url, func(m []byte) {
			if paced {
				d, _ := Since(m)
				lat.Add(d)
				pace <- struct{}{}
			}
			got++
		})
		if err != nil {
			b.Fatalf("%d of %d messages: %v", got, b.N, err)
		}
	}
	reportRate(b)
	if paced {
		reportLatency(b, lat)
	}
}

func rawPost(b *testing.B, size int) {
	r := newRawRig(b, Sink())
	p := Payload(size)
	lat := NewLatencies(b.N)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := Post(r.ctx, r.hc, r.url, p); err != nil {
			b.Fatal(err)
		}
		lat.Add(time.Since(t0))
	}
	reportRate(b)
	reportLatency(b, lat)
}
