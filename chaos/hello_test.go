package chaos

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/transport"
)

// TestLostHelloKeepsSession is the smallest form of a loss the chaos runs
// hit now and then: a connection that breaks after the server has taken a
// resume (connect) but before its hello, which carries a fresh resume
// token, reaches the client. The client's next attempt presents the token
// it had; if the server no longer accepted it, one dropped connection
// would lose the session: ContinuityLost, the unacknowledged publish
// failed with ErrSessionLost, and whatever the server held for the client
// gone. docs/PROTOCOL.md §4 step 3 now keeps that token good until the
// client presents the new one (internal/server/conn.go, (*conn).resume).
func TestLostHelloKeepsSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	lh := &loseHello{Transport: realtime.DefaultTransports()[0]}
	r := newRig(t, ctx, rigConfig{transports: []transport.Transport{lh}, upgrade: -1})

	// One publish the server has processed but not yet acknowledged: it
	// must survive the drop.
	r.srv.DropAcks(true)
	receipt, err := r.c.PublishAsync(upChannel, payload(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.srv.WaitReceived(ctx, 1); err != nil {
		t.Fatal(err)
	}

	lh.arm.Store(true)
	r.srv.DropAcks(false)
	r.srv.DropConnections()

	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := r.obs.wait(wctx, func() bool { return r.obs.reconnects > 0 }); err != nil {
		t.Fatalf("client did not reconnect: %s", r.obs.describe())
	}
	if lh.lost.Load() != 1 {
		t.Fatalf("%d hellos lost, want 1", lh.lost.Load())
	}
	if err := receipt.Wait(wctx); err != nil {
		t.Errorf("publish processed before the drop ended with %v, want acknowledged", err)
	}
	if n := r.obs.snapshot().continuityLost; n != 0 {
		t.Errorf("session lost over one dropped connection (ContinuityLost announced %d times): %s", n, r.obs.describe())
	}
}

// loseHello is a transport that, once armed, makes its next connection
// break just as the server's first message (the hello) arrives, as a
// network failure at that moment would.
type loseHello struct {
	transport.Transport
	arm  atomic.Bool
	lost atomic.Int32
}

func (l *loseHello) Dial(ctx context.Context, baseURL string, cfg transport.Config) (transport.Conn, error) {
	conn, err := l.Transport.Dial(ctx, baseURL, cfg)
	if err != nil || !l.arm.CompareAndSwap(true, false) {
		return conn, err
	}
	return &helloLost{Conn: conn, lost: &l.lost}, nil
}

type helloLost struct {
	transport.Conn
	lost *atomic.Int32
}

var errCut = errors.New("connection cut before the hello arrived")

// Recv takes the hello off the wire and breaks the connection instead of
// returning it.
func (h *helloLost) Recv(ctx context.Context) ([]byte, error) {
	if _, err := h.Conn.Recv(ctx); err != nil {
		return nil, err
	}
	h.lost.Add(1)
	h.Conn.Close()
	return nil, errCut
}
