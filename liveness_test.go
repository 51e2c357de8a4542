package realtime_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cws "github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

// freezer is a WebSocket transport whose connections can go silent
// downstream, as a half-open connection does: nothing arrives and no error
// says why. Sends still go through, so the server keeps the connection and
// only the client's own liveness check can notice.
type freezer struct {
	transport.Transport // websocket when nil
	frozen              atomic.Bool
}

func (f *freezer) Name() string {
	if f.Transport == nil {
		return "websocket"
	}
	return f.Transport.Name()
}

func (f *freezer) Dial(ctx context.Context, u string, cfg transport.Config) (transport.Conn, error) {
	tr := f.Transport
	if tr == nil {
		tr = websocket.Transport{}
	}
	c, err := tr.Dial(ctx, u, cfg)
	if err != nil {
		return nil, err
	}
	return &frozenConn{Conn: c, f: f}, nil
}

type frozenConn struct {
	transport.Conn
	f *freezer
}

func (c *frozenConn) Recv(ctx context.Context) ([]byte, error) {
	for {
		msg, err := c.Conn.Recv(ctx)
		if err != nil || !c.f.frozen.Load() {
			return msg, err
		}
	}
}

// The server's heartbeats stop arriving: the client declares the link dead
// after interval + grace, and reconnects.
func TestSilentLinkIsDeclaredDeadAfterHeartbeatAndGrace(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, &mock.Options{Server: server.Config{Heartbeat: 100 * time.Millisecond}})
	fr := &freezer{}
	rec := newRecorder()
	c := connect(t, ctx, srv, &realtime.Options{
		Transports:     []transport.Transport{fr},
		HeartbeatGrace: 100 * time.Millisecond,
	}, rec)
	fr.frozen.Store(true)
	start := time.Now()
	lost := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.To == realtime.StateReconnecting })
	took := time.Since(start)
	require.ErrorIs(t, lost.Err, realtime.ErrLinkDead)
	require.ErrorContains(t, lost.Err, "no frame from the server")
	require.GreaterOrEqual(t, took, 150*time.Millisecond, "not before interval + grace")
	require.Less(t, took, 2*time.Second)
	fr.frozen.Store(false)
	_, err := c.WaitForState(ctx, realtime.StateConnected)
	require.NoError(t, err)
	roundTrip(t, ctx, srv, c)
}

// A path that goes dead (every byte held, no connection closed) is given
// up after heartbeat + grace on every transport, and the reconnect does
// not wait for the dead link's close: an HTTP transport's close flushes
// and DELETEs into the dead path for up to 2 s.
func TestDeadPathIsLeftPromptlyOnEveryTransport(t *testing.T) {
	for _, tr := range realtime.DefaultTransports() {
		t.Run(tr.Name(), func(t *testing.T) {
			ctx := testCtx(t, 10*time.Second)
			srv := newServer(t, &mock.Options{Server: server.Config{Heartbeat: 100 * time.Millisecond}})
			p, url := newStallProxy(t, srv.URL())
			rec := newRecorder()
			c, err := realtime.New(url, &realtime.Options{
				Transports:      []transport.Transport{tr},
				HeartbeatGrace:  100 * time.Millisecond,
				UpgradeInterval: -1,
				OnStateChange:   rec.change,
			})
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			require.NoError(t, c.Connect(ctx))
			p.stall(true)
			start := time.Now()
			lost := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.To == realtime.StateReconnecting })
			took := time.Since(start)
			p.stall(false)
			require.ErrorContains(t, lost.Err, "no frame from the server")
			require.Less(t, took, scaled(time.Second), "dead after 200 ms; the close of the dead link must not delay the reconnect")
			_, err = c.WaitForState(ctx, realtime.StateConnected)
			require.NoError(t, err)
			require.NoError(t, c.Publish(ctx, "a", []byte("after")))
		})
	}
}

// A wall clock that jumps ahead (the device slept) makes the client drop
// the link at once and resume, without waiting for the heartbeat to lapse.
func TestWallClockJumpReconnectsAtOnce(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, nil) // heartbeat 15 s: only the jump can explain a quick reconnect
	rec := newRecorder()
	c := connect(t, ctx, srv, nil, rec)
	// An acked publish proves the writer loop runs and has read both clocks;
	// a skew before that would be its baseline, not a jump.
	require.NoError(t, c.Publish(ctx, "a", []byte("writer is up")))
	defer realtime.SkewWallClock(time.Hour)()
	r, err := c.PublishAsync("a", []byte("wake the writer"))
	require.NoError(t, err)
	ch := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.To == realtime.StateReconnecting })
	require.ErrorContains(t, ch.Err, "wall clock jumped")
	require.NoError(t, r.Wait(ctx), "the publish survives the reconnect")
}

// Credentials revoked while connected: the reconnect is refused with 401,
// the client fails with ErrUnauthorized after one attempt, no retry storm.
func TestAuthFailureDuringReconnectFailsOnce(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	var revoked atomic.Bool
	var refusals atomic.Int32
	srv := newServer(t, &mock.Options{Server: server.Config{Authenticate: func(*http.Request) (server.Identity, error) {
		if revoked.Load() {
			refusals.Add(1)
			return server.Identity{}, errors.New("revoked")
		}
		return server.Identity{}, nil
	}}})
	rec := newRecorder()
	c := connect(t, ctx, srv, nil, rec)
	r, err := c.PublishAsync("a", []byte("in flight when it fails"))
	require.NoError(t, err)
	revoked.Store(true)
	srv.DropConnections()
	s, err := c.WaitForState(ctx, realtime.StateFailed)
	require.NoError(t, err)
	require.Equal(t, realtime.StateFailed, s)
	require.ErrorIs(t, c.Err(), realtime.ErrUnauthorized)
	require.Equal(t, int32(1), refusals.Load(), "one refused attempt, no fallback, no retries")
	if werr := r.Wait(ctx); werr != nil { // it may have been acked before the drop
		require.ErrorIs(t, werr, realtime.ErrUnauthorized)
	}
	failed := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.To == realtime.StateFailed })
	require.True(t, strings.Contains(failed.Reason, "permanent"))
}

func TestDropOldestPolicy(t *testing.T) {
	c, err := realtime.New("http://127.0.0.1:1", &realtime.Options{OutboxCount: 2, OutboxPolicy: realtime.DropOldest})
	require.NoError(t, err)
	defer c.Close()
	r1, _ := c.PublishAsync("t", []byte("1"))
	r2, _ := c.PublishAsync("t", []byte("2"))
	r3, err := c.PublishAsync("t", []byte("3"))
	require.NoError(t, err)
	require.ErrorIs(t, r1.Err(), realtime.ErrOutboxFull)
	require.Equal(t, realtime.ReceiptFailed, r1.Status())
	require.Equal(t, realtime.ReceiptQueued, r2.Status())
	require.Equal(t, realtime.ReceiptQueued, r3.Status())
}

// deafServer completes the handshake, then sends pings every 50 ms and
// never reads again, as a server whose process is wedged but whose socket
// is open: the client's sends fill the socket and block.
func deafServer(t *testing.T, hb time.Duration) string {
	cd := codec.ByName("json")
	done := make(chan struct{})
	var wg sync.WaitGroup
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		ws, err := cws.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-done:
			case <-ctx.Done():
			}
			ws.CloseNow()
		}()
		if _, _, err := ws.Read(ctx); err != nil { // connect
			return
		}
		hello, _ := cd.Encode(nil, codec.Frame{Type: codec.TypeHello, Version: codec.Version, Session: "s", Token: "t", Heartbeat: uint32(hb / time.Millisecond)})
		ping, _ := cd.Encode(nil, codec.Frame{Type: codec.TypePing})
		if ws.Write(ctx, cws.MessageText, hello) != nil {
			return
		}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-tick.C:
			}
			if ws.Write(ctx, cws.MessageText, ping) != nil {
				return
			}
		}
	}))
	t.Cleanup(func() { close(done); ts.CloseClientConnections(); ts.Close(); wg.Wait() })
	return ts.URL
}

// A server that stays connected and keeps sending, but stops reading:
// the client's send blocks once the socket is full. The client ends the
// link after heartbeat + grace instead of waiting for TCP to give up.
func TestSendNotTakenEndsLink(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	url := deafServer(t, 200*time.Millisecond)
	rec := newRecorder()
	c, err := realtime.New(url, &realtime.Options{
		Transports:     []transport.Transport{websocket.Transport{}},
		HeartbeatGrace: 100 * time.Millisecond,
		OnStateChange:  rec.change,
	})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Connect(ctx))
	data := bytes.Repeat([]byte("x"), 60<<10)
	for range 200 { // 12 MB: far more than the socket buffers on both ends hold
		_, err := c.PublishAsync("a", data)
		require.NoError(t, err)
	}
	lost := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.To == realtime.StateReconnecting })
	require.ErrorIs(t, lost.Err, realtime.ErrLinkDead)
	// The send blocked for heartbeat + grace (300 ms), or, on a machine
	// so busy that the socket buffers took longer than twice that to
	// fill, nothing was acknowledged for 600 ms: both are the client
	// giving up on a server that does not take what it sends.
	if !strings.Contains(lost.Err.Error(), "not taken within 300ms") {
		require.ErrorContains(t, lost.Err, "nothing sent was acknowledged for 600ms")
	}
}

// Close does not wait out the heartbeat for a send the server is not
// taking: it gives the link closeWait (1 s) and goes.
func TestCloseDoesNotWaitForSendNotTaken(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	url := deafServer(t, 10*time.Second)
	c, err := realtime.New(url, &realtime.Options{
		Transports:  []transport.Transport{websocket.Transport{}},
		OutboxBytes: 64 << 20,
	})
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	data := bytes.Repeat([]byte("x"), 60<<10)
	for range 600 { // 36 MB: more than the socket buffers on both ends hold
		_, err := c.PublishAsync("a", data)
		require.NoError(t, err)
	}
	// The writer is blocked in a send once Sent stops moving short of all.
	last, still := uint64(0), 0
	for still < 6 {
		select {
		case <-ctx.Done():
			t.Fatal("the writer never blocked")
		case <-time.After(50 * time.Millisecond):
		}
		s := c.Stats()
		if s.Sent == last && s.Sent < s.Published {
			still++
		} else {
			last, still = s.Sent, 0
		}
	}
	start := time.Now()
	require.NoError(t, c.Close())
	require.Less(t, time.Since(start), min(scaled(5*time.Second), 9*time.Second), "Close waited for the heartbeat (10 s)")
}
