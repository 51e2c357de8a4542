package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

// eventually waits, within the test deadline, until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not in time", what)
		}
		time.Sleep(5 * time.Millisecond) // a poll of a condition, not a wait for luck
	}
}

func handshakeError(t *testing.T, url string, h http.Header) *transport.HandshakeError {
	t.Helper()
	c, err := websocket.Transport{}.Dial(ctxWait(t), url, transport.Config{Header: h})
	var he *transport.HandshakeError
	if !errors.As(err, &he) {
		if c != nil {
			_ = c.Close()
		}
		t.Fatalf("dial: %v, want a refused handshake", err)
	}
	return he
}

func TestPendingBound(t *testing.T) {
	srv, url := start(t, server.Config{MaxPending: 2, ConnectTimeout: time.Minute})
	served, _ := open(t, url) // connected before the flood
	for range 2 {
		dial(t, url, "json") // never sends connect
	}
	eventually(t, "two pending", func() bool { return srv.Stats().Pending == 2 })
	he := handshakeError(t, url, nil)
	if he.StatusCode != http.StatusServiceUnavailable || he.RetryAfter <= 0 {
		t.Fatalf("handshake beyond MaxPending: %d retry %v, want 503 with Retry-After", he.StatusCode, he.RetryAfter)
	}
	served.send(pub(1, "c", "x"))
	served.ack(1) // the server still serves its sessions
}

func TestConnectTimeout(t *testing.T) {
	srv, url := start(t, server.Config{ConnectTimeout: 100 * time.Millisecond})
	c := dial(t, url, "json")
	c.expectEnd()
	eventually(t, "no pending", func() bool { return srv.Stats().Pending == 0 })
	served, _ := open(t, url)
	served.send(pub(1, "c", "x"))
	served.ack(1)
}

func TestConnsPerIdentityBound(t *testing.T) {
	_, url := start(t, server.Config{Authenticate: bearer, MaxConnsPerIdentity: 2})
	for range 2 {
		dialAs(t, url, "ann").connect("", "", 0)
	}
	he := handshakeError(t, url, http.Header{"Authorization": {"Bearer ann"}})
	if he.StatusCode != http.StatusTooManyRequests || he.RetryAfter <= 0 {
		t.Fatalf("third connection of one identity: %d retry %v, want 429 with Retry-After", he.StatusCode, he.RetryAfter)
	}
	other := dialAs(t, url, "bob")
	other.connect("", "", 0)
	other.send(pub(1, "c", "x"))
	other.ack(1)
}

func TestPublishRateBound(t *testing.T) {
	_, url := start(t, server.Config{PublishRate: 0.001, PublishBurst: 3})
	c, _ := open(t, url)
	c.send(pub(1, "c", "1"), pub(2, "c", "2"), pub(3, "c", "3"), pub(4, "c", "4"))
	var nack codec.Frame
	for nack.Type != codec.TypeNack {
		nack = c.nextData()
	}
	if nack.Ref != 4 || nack.Code != 4529 {
		t.Fatalf("nack %+v, want the fourth publish refused with 4529", nack)
	}
	other, _ := open(t, url) // a bucket per session
	other.send(pub(1, "c", "x"))
	other.ack(1)
}

// 10,000 connections that never send connect are shed: at most MaxPending
// wait at once, each for ConnectTimeout, and the heap stays within a
// stated bound while they come.
func TestNeverConnectingShed(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 connections")
	}
	const n, maxPending = 10_000, 512
	const heapBound = 64 << 20 // stated in docs/PERFORMANCE.md
	srv, url := start(t, server.Config{MaxPending: maxPending, ConnectTimeout: 500 * time.Millisecond})
	addr := strings.TrimPrefix(url, "http://")
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak uint64
	held := make([]net.Conn, 0, 2000)
	refused, upgraded := 0, 0
	for i := range n {
		nc, err := net.DialTimeout("tcp", addr, wait)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		fmt.Fprintf(nc, "GET /ws?v=1 HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", addr)
		_ = nc.SetReadDeadline(time.Now().Add(wait))
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatalf("handshake %d: %v", i, err)
		}
		switch resp.StatusCode {
		case http.StatusSwitchingProtocols:
			upgraded++
		case http.StatusServiceUnavailable:
			refused++
		default:
			t.Fatalf("handshake %d: status %d", i, resp.StatusCode)
		}
		// Keep a few open from this side; the server sheds the rest.
		if len(held) < cap(held) {
			held = append(held, nc)
		} else {
			_ = nc.Close()
		}
		if p := srv.Stats().Pending; p > maxPending {
			t.Fatalf("%d pending, bound %d", p, maxPending)
		}
		if i%500 == 0 {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	for _, nc := range held {
		_ = nc.Close()
	}
	eventually(t, "every pending connection shed", func() bool { return srv.Stats().Pending == 0 })
	growth := int64(peak) - int64(before.HeapAlloc)
	t.Logf("%d upgraded, %d refused with 503; heap growth at peak %.1f MiB (bound %d MiB)",
		upgraded, refused, float64(growth)/(1<<20), heapBound>>20)
	if growth > heapBound {
		t.Fatalf("heap grew by %d bytes, bound %d", growth, heapBound)
	}
	served, _ := open(t, url)
	served.send(pub(1, "c", "x"))
	served.ack(1)
}
