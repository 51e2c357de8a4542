package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
)

// The kinds of forced kill the chaos loop mixes.
const (
	killDrop      = "drop"       // srv.DropConnections: the server side vanishes
	killDropEvery = "drop-every" // srv.DropEvery(n): a connection dies after n frames
	killReset     = "reset-peer" // toxiproxy reset_peer: new connections get a TCP RST
	killLimit     = "limit-data" // toxiproxy limit_data: the stream is cut mid-event
	killTimeout   = "timeout"    // toxiproxy timeout: half-open, only the heartbeat notices
)

// touchesToxics reports whether a kind of kill adds and removes toxics.
func touchesToxics(kind string) bool {
	return kind == killReset || kind == killLimit || kind == killTimeout
}

// lossWait bounds how long a kill may take to show as a lost connection.
// It is generous on purpose: a kill that was not noticed in time is not
// counted, and the run's total decides.
const lossWait = 10 * time.Second

// killer performs the kills and counts those the client noticed.
type killer struct {
	t   *testing.T
	r   *rig
	rnd *rand.Rand

	done     map[string]int  // kills the client reported, by kind
	missed   map[string]int  // kills that ended no connection in time
	detected []time.Duration // from the stall to the client's report
	idle     time.Duration   // the longest idle time at a heartbeat detection
	stalls   int             // losses the client reported while a timeout toxic was in force
}

func newKiller(t *testing.T, r *rig, seed uint64) *killer {
	return &killer{
		t: t, r: r, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		done: make(map[string]int), missed: make(map[string]int),
	}
}

func (k *killer) total() (n int) {
	for _, v := range k.done {
		n += v
	}
	return n
}

// connected waits for the client to be connected, which every kill needs
// to have something to kill.
func (k *killer) connected(ctx context.Context) {
	k.t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := k.r.c.WaitForState(wctx, realtime.StateConnected)
	if err != nil || s != realtime.StateConnected {
		k.t.Fatalf("client not connected again within 20 s (state %s, %v): %s", s, err, k.r.obs.describe())
	}
}

// awaitLoss waits until the client has reported more than from lost
// connections.
func (k *killer) awaitLoss(ctx context.Context, from int, d time.Duration) bool {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return k.r.obs.wait(wctx, func() bool { return k.r.obs.losses > from }) == nil
}

// kill performs one kill of the given kind and reports whether the client
// noticed it (a Connected → Reconnecting change). release lets the next
// stretch of traffic go: the kills that need traffic to act on are armed
// before it, the others strike a few milliseconds into it.
func (k *killer) kill(ctx context.Context, kind string, release func()) bool {
	k.t.Helper()
	k.connected(ctx)
	obs, srv, np := k.r.obs, k.r.srv, k.r.proxy
	from := obs.lossCount()
	strike := func() {
		release()
		time.Sleep(time.Duration(k.rnd.IntN(10)) * time.Millisecond)
	}
	var ok bool
	switch kind {
	case killDrop:
		strike()
		srv.DropConnections()
		ok = k.awaitLoss(ctx, from, lossWait)
	case killDropEvery:
		// Above a handshake and its resend, so that a connection can still
		// make progress while the switch is on.
		srv.DropEvery(20 + k.rnd.IntN(150))
		release()
		ok = k.awaitLoss(ctx, from, lossWait)
		srv.DropEvery(0)
	case killReset:
		ok = k.reset(ctx, from, strike)
	case killLimit:
		np.add(k.t, toxic{Name: "cut", Type: "limit_data", Stream: "downstream",
			Attributes: map[string]int{"bytes": 200 + k.rnd.IntN(4000)}})
		release()
		ok = k.awaitLoss(ctx, from, lossWait)
		np.remove(k.t, "cut")
	case killTimeout:
		strike()
		ok = k.halfOpen(ctx, from)
	default:
		k.t.Fatalf("unknown kill %q", kind)
	}
	if ok {
		k.done[kind]++
	} else {
		k.missed[kind]++
	}
	return ok
}

// reset follows the recipe of PEERS.md: reset_peer RSTs only connections
// opened while it is in force, so the open ones are dropped by the server
// and the client's reconnect is what meets the reset.
func (k *killer) reset(ctx context.Context, from int, strike func()) bool {
	obs, np := k.r.obs, k.r.proxy
	var attempts int
	obs.read(func() { attempts = obs.failedAttempts })
	np.add(k.t, toxic{Name: "rst", Type: "reset_peer", Stream: "downstream", Attributes: map[string]int{"timeout": 0}})
	strike()
	k.r.srv.DropConnections()
	ok := k.awaitLoss(ctx, from, lossWait)
	if ok {
		// Leave it in force until a reconnect has met it.
		wctx, cancel := context.WithTimeout(ctx, lossWait)
		err := obs.wait(wctx, func() bool { return obs.failedAttempts > attempts })
		cancel()
		if err != nil {
			k.t.Errorf("reset_peer in force, but no reconnect attempt failed within %v: %s", lossWait, obs.describe())
		}
	}
	np.remove(k.t, "rst")
	return ok
}

// heartbeatErr reads the idle time out of the client's error for a
// connection on which nothing arrived for longer than heartbeat + grace
// (which wraps realtime.ErrLinkDead; only its text carries the time).
var heartbeatErr = regexp.MustCompile(`no frame from the server for (\S+) \(heartbeat`)

// detectSlack is what the idle time at detection may exceed heartbeat +
// grace by: the writer's timer firing late on a loaded machine. Idle
// times measured here are 0.80–0.84 s on a quiet 2-core machine under
// -race, and up to 1.37 s with five such runs sharing it. A writer that
// stopped watching (one blocked for a handshake timeout, 2 s) is past it.
const detectSlack = time.Second

// halfOpen stalls every connection without closing it. Only the heartbeat
// can tell, so the client must report the loss while the stall is still
// in force, with the heartbeat as the reason, after an idle time of about
// heartbeat + grace.
func (k *killer) halfOpen(ctx context.Context, from int) bool {
	k.t.Helper()
	obs, np := k.r.obs, k.r.proxy
	start := time.Now()
	np.add(k.t, toxic{Name: "stall", Type: "timeout", Stream: "downstream", Attributes: map[string]int{"timeout": 0}})
	ok := k.awaitLoss(ctx, from, lossWait)
	took := time.Since(start)
	var loss realtime.StateChange
	obs.read(func() {
		loss = obs.lastLoss
		k.stalls += obs.losses - from
	})
	// Removing a timeout toxic closes what it stalled.
	np.remove(k.t, "stall")
	if !ok {
		k.t.Errorf("half-open connection not detected within %v: %s", lossWait, obs.describe())
		return false
	}
	idle, err := detectedIdle(loss.Err)
	k.idle = max(k.idle, idle)
	switch {
	case err != nil:
		k.t.Errorf("half-open connection ended, but not by the heartbeat: %v", loss.Err)
	case idle > heartbeat+heartbeatGrace+detectSlack:
		k.t.Errorf("half-open connection detected after %v idle, want at most %v + %v + %v slack (%v to report it)",
			idle, heartbeat, heartbeatGrace, detectSlack, took.Round(time.Millisecond))
	}
	k.detected = append(k.detected, took)
	return true
}

// detectedIdle extracts the idle time from the client's heartbeat error.
func detectedIdle(err error) (time.Duration, error) {
	if err == nil {
		return 0, fmt.Errorf("no error")
	}
	m := heartbeatErr.FindStringSubmatch(err.Error())
	if !errors.Is(err, realtime.ErrLinkDead) || m == nil {
		return 0, fmt.Errorf("not a heartbeat error: %v", err)
	}
	return time.ParseDuration(m[1])
}

// String summarises the kills by kind, for the log.
func (k *killer) String() string {
	var b strings.Builder
	for _, kind := range []string{killDrop, killDropEvery, killReset, killLimit, killTimeout} {
		fmt.Fprintf(&b, " %s=%d", kind, k.done[kind])
		if m := k.missed[kind]; m > 0 {
			fmt.Fprintf(&b, "(+%d unnoticed)", m)
		}
	}
	var worst time.Duration
	for _, d := range k.detected {
		worst = max(worst, d)
	}
	fmt.Fprintf(&b, " stalls-detected=%d longest-idle=%v slowest-stall-report=%v", k.stalls, k.idle, worst.Round(time.Millisecond))
	return strings.TrimSpace(b.String())
}
