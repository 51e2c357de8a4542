package chaos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
)

const (
	expiryMessages = 4000 // each way
	expiryWindow   = 200
	// heldAcks is how many publishes the server processes, with their
	// acks withheld, just before it forgets the session: each of them must
	// then fail with ErrSessionLost although the server has it, which is
	// the case an application can only learn about from that error.
	heldAcks = 100
)

// marker is a payload of downChannel that is not a numbered message.
var marker = []byte("marker")

// TestSessionExpiry forgets the session in the middle of both streams. The
// client must say so (a StateChange with ContinuityLost) and must not skip
// anything silently: every publish either reached the server exactly once
// and was acknowledged, or failed with ErrSessionLost; and once the
// subscription is renewed, every message arrives.
func TestSessionExpiry(t *testing.T) {
	all := realtime.DefaultTransports()
	for i, name := range []string{"websocket", "sse", "longpoll"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			start := time.Now()
			r := newRig(t, ctx, rigConfig{transports: all[i : i+1], upgrade: -1})
			g, settled, dg := newGate(), newGate(), newGate()
			g.open(expiryMessages / 3)
			dg.open(expiryMessages / 3)

			var wg sync.WaitGroup
			upc := make(chan upResult, 1)
			downc := make(chan downResult, 1)
			pctx, stop := context.WithCancel(ctx)
			wg.Go(func() { upc <- publishUp(pctx, r.c, g, expiryMessages, expiryWindow, settled) })
			wg.Go(func() { downc <- publishAcrossLoss(pctx, r, dg) })
			defer func() {
				stop()
				wg.Wait()
			}()

			// A first third, all acknowledged; then heldAcks more that the
			// server processes but cannot acknowledge; then the rest, on
			// their way as the session is forgotten and the connection
			// dropped.
			if err := settled.wait(ctx, expiryMessages/3-1); err != nil {
				t.Fatalf("first third not settled: %v", err)
			}
			r.srv.DropAcks(true)
			held := expiryMessages/3 + heldAcks
			g.open(held)
			if _, err := r.srv.WaitReceived(ctx, held); err != nil {
				t.Fatalf("publishes stopped while acks were held: %v", err)
			}
			g.open(expiryMessages)
			dg.open(expiryMessages)
			r.srv.ExpireSessions()
			r.srv.DropConnections()
			r.srv.DropAcks(false)

			wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
			defer wcancel()
			if err := r.obs.wait(wctx, func() bool { return r.obs.continuityLost > 0 }); err != nil {
				t.Fatalf("no StateChange with ContinuityLost after the session expired: %s", r.obs.describe())
			}
			up := <-upc
			down := <-downc
			took := time.Since(start)
			_ = r.c.Close()

			checkUpAcrossLoss(t, r, up, held)
			checkDownAcrossLoss(t, r, &down)
			if n := r.obs.snapshot().continuityLost; n != 1 {
				t.Errorf("continuity loss announced %d times, want 1", n)
			}
			t.Logf("expiry transport=%s publishes=%d acked=%d session-lost=%d (of which the server had %d) down: delivered=%d lost=%d after-renewal=%d took=%v",
				name, expiryMessages, up.acked, len(up.failed), countReceived(r, up.failed), down.delivered, down.lost, down.after, took.Round(time.Millisecond))
		})
	}
}

// downResult is what publishAcrossLoss and its check found.
type downResult struct {
	renewed   int // the first index published once the renewed subscription delivered
	err       error
	delivered int
	lost      int
	after     int
}

// publishAcrossLoss publishes on downChannel, as far as g allows, until
// the client announces the loss, then publishes markers until one arrives
// (the subscription has been renewed on the new session: the client gives
// no other sign of it), then the rest. Whatever was published before the
// marker arrived may be gone with the old session; nothing published after
// it may be.
func publishAcrossLoss(ctx context.Context, r *rig, g *gate) downResult {
	obs := r.obs
	lost := func() bool { return obs.continuityLost > 0 }
	i := 0
	for ; i < expiryMessages; i++ {
		if err := g.wait(ctx, i); err != nil {
			return downResult{err: err}
		}
		err := obs.wait(ctx, func() bool { return lost() || obs.maxDown >= i-expiryWindow })
		if err != nil {
			return downResult{err: fmt.Errorf("down %d before the loss: %w", i, err)}
		}
		var over bool
		obs.read(func() { over = lost() })
		if over {
			break
		}
		if err := r.srv.Publish(ctx, downChannel, payload(i)); err != nil {
			return downResult{err: err}
		}
	}
	if err := obs.wait(ctx, lost); err != nil {
		return downResult{err: fmt.Errorf("waiting for the loss: %w", err)}
	}
	// Pacing only: the wait for the marker is what decides.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for seen := false; !seen; {
		if err := r.srv.Publish(ctx, downChannel, marker); err != nil {
			return downResult{err: err}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return downResult{err: fmt.Errorf("no marker delivered after the loss: %w", ctx.Err())}
		}
		obs.read(func() { seen = obs.markers > 0 })
	}
	renewed := i
	for ; i < expiryMessages; i++ {
		// What was lost before the renewal must not hold the window shut.
		err := obs.wait(ctx, func() bool { return max(obs.maxDown, renewed-1) >= i-expiryWindow })
		if err != nil {
			return downResult{renewed: renewed, err: fmt.Errorf("down %d after renewal: %w", i, err)}
		}
		if err := r.srv.Publish(ctx, downChannel, payload(i)); err != nil {
			return downResult{renewed: renewed, err: err}
		}
	}
	err := obs.wait(ctx, func() bool { return obs.maxDown >= expiryMessages-1 })
	if err != nil {
		err = fmt.Errorf("the last message never arrived: %w", err)
	}
	return downResult{renewed: renewed, err: err}
}

// checkUpAcrossLoss checks that the publishes add up: acknowledged ones
// reached the server exactly once, failed ones failed with ErrSessionLost
// and reached it at most once, nothing reached it twice or out of order,
// and the held ones are among the failed that the server has.
func checkUpAcrossLoss(t *testing.T, r *rig, up upResult, held int) {
	t.Helper()
	if up.err != nil {
		t.Fatalf("publisher: %v", up.err)
	}
	for i, err := range up.failed {
		if !errors.Is(err, realtime.ErrSessionLost) {
			t.Errorf("publish %d failed with %v, want ErrSessionLost or success", i, err)
		}
	}
	if up.acked+len(up.failed) != expiryMessages {
		t.Errorf("acked %d + failed %d != published %d", up.acked, len(up.failed), expiryMessages)
	}
	idx, bad := upIndexes(r.srv)
	_, dup, reordered := tally(idx, expiryMessages)
	if dup+reordered+bad != 0 {
		t.Errorf("server received dup=%d reordered=%d malformed=%d", dup, reordered, bad)
	}
	got := make(map[int]bool, len(idx))
	for _, i := range idx {
		got[i] = true
	}
	missing := 0
	for i := range expiryMessages {
		if _, failed := up.failed[i]; !failed && !got[i] {
			missing++
		}
	}
	if missing != 0 {
		t.Errorf("%d acknowledged publishes never reached the server", missing)
	}
	for i := held - heldAcks; i < held; i++ {
		if err, failed := up.failed[i]; !failed || !got[i] {
			t.Errorf("publish %d, processed while acks were held, ended with %v and received=%v; want ErrSessionLost and received",
				i, err, got[i])
			break
		}
	}
	if len(got) != up.acked+countReceived(r, up.failed) {
		t.Errorf("server has %d distinct publishes, want acked %d + received-but-failed %d",
			len(got), up.acked, countReceived(r, up.failed))
	}
}

// countReceived returns how many of the failed publishes the server has.
func countReceived(r *rig, failed map[int]error) int {
	idx, _ := upIndexes(r.srv)
	n := 0
	for _, i := range idx {
		if _, ok := failed[i]; ok {
			n++
		}
	}
	return n
}

// checkDownAcrossLoss checks the client's side: nothing twice, nothing out
// of order, and everything published after the renewal delivered.
func checkDownAcrossLoss(t *testing.T, r *rig, down *downResult) {
	t.Helper()
	if down.err != nil {
		t.Errorf("down: %v", down.err)
	}
	var idx []int
	r.obs.read(func() { idx = append(idx, r.obs.down...) })
	lost, dup, reordered := tally(idx, expiryMessages)
	if dup+reordered != 0 {
		t.Errorf("client received dup=%d reordered=%d", dup, reordered)
	}
	seen := make(map[int]bool, len(idx))
	for _, i := range idx {
		seen[i] = true
	}
	after := 0
	for i := down.renewed; i < expiryMessages; i++ {
		if seen[i] {
			after++
		}
	}
	if after != expiryMessages-down.renewed {
		t.Errorf("after the renewal: %d of %d messages delivered", after, expiryMessages-down.renewed)
	}
	down.delivered, down.lost, down.after = len(idx), lost, after
}
