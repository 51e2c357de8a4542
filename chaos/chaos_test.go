package chaos

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/transport"
)

// The bar the issue sets for each transport run, and the bounds that keep a
// broken client from hanging CI.
const (
	messages   = 20000 // each way
	killTarget = 100
	runTimeout = 4 * time.Minute
	// window bounds the messages in flight each way: enough that every
	// kill finds some, far below the outbox's 4096 and the server's
	// session buffer.
	window = 400
	// stallWait bounds the wait for traffic to move again after a kill;
	// past it the client is stuck, which is a finding.
	stallWait = 30 * time.Second
)

// schedule mixes the kinds of kill. The half-open kill is the slow one
// (heartbeat + grace to notice, then the HTTP transports' bounded close),
// so it comes once in 14.
var schedule = []string{
	killDrop, killReset, killDropEvery, killLimit, killDrop, killReset, killTimeout,
	killLimit, killDropEvery, killDrop, killReset, killLimit, killDropEvery, killDrop,
}

func TestChaos(t *testing.T) {
	all := realtime.DefaultTransports()
	for _, tc := range []struct {
		name       string
		transports []transport.Transport
	}{
		{"websocket", all[0:1]},
		{"sse", all[1:2]},
		{"longpoll", all[2:3]},
		{"switching", all},
	} {
		t.Run(tc.name, func(t *testing.T) { runChaos(t, tc.name, tc.transports) })
	}
}

func runChaos(t *testing.T, name string, transports []transport.Transport) {
	switching := len(transports) > 1
	seed := chaosSeed(t)
	ctx, cancel := context.WithTimeout(t.Context(), runTimeout)
	defer cancel()
	start := time.Now()

	cfg := rigConfig{transports: transports, upgrade: -1}
	if switching {
		cfg.upgrade = 50 * time.Millisecond
	}
	r := newRig(t, ctx, cfg)

	chunk := messages / killTarget
	g := newGate()
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	upc := make(chan upResult, 1)
	downc := make(chan error, 1)
	wg.Go(func() { upc <- publishUp(pctx, r.c, g, messages, window, nil) })
	wg.Go(func() { downc <- publishDown(pctx, r.srv, r.obs, g, messages, window) })
	// Also on Fatal: no publisher may outlive the test.
	defer func() {
		stop()
		wg.Wait()
	}()

	k := newKiller(t, r, seed)
	w := &weather{t: t, r: r, switching: switching}
	for step := 0; k.total() < killTarget; step++ {
		if ctx.Err() != nil || step >= 2*killTarget {
			t.Fatalf("only %d kills noticed in %d attempts within %v: %s", k.total(), step, time.Since(start), k)
		}
		kills := k.total()
		kind := schedule[step%len(schedule)]
		if slicing(kills) && touchesToxics(kind) {
			// A sliced link is nearly always mid-send, the worst case for
			// a toxic change (see netProxy): while the slicer is in force
			// the kills leave toxics alone.
			kind = []string{killDrop, killDropEvery}[step%2]
		}
		if w.changes(kills) || touchesToxics(kind) {
			// Toxics change only once all that was released has crossed,
			// away from dying links (see netProxy).
			if err := flowed(ctx, r, min(kills*chunk, messages)); err != nil {
				t.Fatalf("before kill %d: traffic stuck: %v; %s", kills+1, err, r.obs.describe())
			}
			w.set(kills)
		}
		release := func() { g.open(min((kills+1)*chunk, messages)) }
		if !k.kill(ctx, kind, release) {
			continue
		}
		// Traffic must move again before the next kill, so that the kills
		// are spread over the stream and each one is survived, not piled up.
		want := (kills+1)*chunk - chunk/2
		if err := flowed(ctx, r, want); err != nil {
			t.Fatalf("after kill %d (%s): traffic stuck below %d each way: %v; %s",
				kills+1, kind, want, err, r.obs.describe())
		}
		if switching {
			w.settled(ctx, kills)
		}
	}
	heal(t, r.srv, r.proxy)
	g.open(messages)

	dctx, dcancel := context.WithTimeout(ctx, stallWait)
	defer dcancel()
	if err := r.obs.wait(dctx, func() bool { return len(r.obs.down) >= messages }); err != nil {
		t.Errorf("client got %d of %d messages: %v; %s", r.obs.delivered(), messages, err, r.obs.describe())
	}
	up := <-upc
	if err := <-downc; err != nil {
		t.Errorf("server publisher: %v", err)
	}
	if _, err := r.srv.WaitReceived(dctx, messages); err != nil {
		t.Errorf("server got fewer than %d publishes: %v", messages, err)
	}
	took := time.Since(start)
	// Closing first freezes both records: a duplicate that was still on its
	// way would otherwise slip past the count.
	_ = r.c.Close()

	upIdx, upBad := upIndexes(r.srv)
	var downIdx []int
	r.obs.read(func() { downIdx = append(downIdx, r.obs.down...) })
	o := r.obs.snapshot()
	upLost, upDup, upReord := tally(upIdx, messages)
	downLost, downDup, downReord := tally(downIdx, messages)

	t.Logf("chaos transport=%s up=%d down=%d kills=%d reconnects=%d lost=%d dup=%d reordered=%d took=%v",
		name, len(upIdx)-upDup, len(downIdx)-downDup, k.total(), o.reconnects,
		upLost+downLost, upDup+downDup, upReord+downReord, took.Round(time.Millisecond))
	t.Logf("chaos detail transport=%s seed=%d kills: %s; losses=%d rst-seen=%d upgrades=%d connected-by-transport=%v up(lost=%d dup=%d reordered=%d) down(lost=%d dup=%d reordered=%d)",
		name, seed, k, o.losses, o.resets, o.upgrades, o.byTransport, upLost, upDup, upReord, downLost, downDup, downReord)

	if upLost+upDup+upReord+upBad != 0 {
		t.Errorf("client → server: lost=%d dup=%d reordered=%d malformed=%d", upLost, upDup, upReord, upBad)
	}
	if downLost+downDup+downReord+o.malformed != 0 {
		t.Errorf("server → client: lost=%d dup=%d reordered=%d malformed=%d", downLost, downDup, downReord, o.malformed)
	}
	if up.err != nil || len(up.failed) != 0 || up.acked != messages {
		t.Errorf("publishes: %d of %d acknowledged, %d failed (e.g. %v), stopped by %v",
			up.acked, messages, len(up.failed), firstErr(up.failed), up.err)
	}
	if k.total() < killTarget {
		t.Errorf("kills=%d, want at least %d", k.total(), killTarget)
	}
	// Each kill that counted made the client open a new connection.
	accepted := 0
	for _, n := range r.srv.Transports() {
		accepted += n
	}
	if accepted < k.total()+1 {
		t.Errorf("the server accepted %d connections for %d kills", accepted, k.total())
	}
	if k.done[killTimeout] == 0 || k.stalls < k.done[killTimeout] {
		t.Errorf("half-open kills: %d, losses detected while the stall was in force: %d", k.done[killTimeout], k.stalls)
	}
	if o.continuityLost != 0 {
		t.Errorf("the session was lost %d times; every kill here must be resumed", o.continuityLost)
	}
	if o.final != nil {
		t.Errorf("%v", o.final)
	}
	if switching {
		for _, tr := range []string{"websocket", "sse", "longpoll"} {
			if o.byTransport[tr] == 0 {
				t.Errorf("never connected over %s: %v", tr, o.byTransport)
			}
		}
		if o.upgrades == 0 {
			t.Errorf("no live upgrade back to websocket")
		}
	}
}

// errSessionLost stops a wait that a lost session would make vain.
var errSessionLost = errors.New("the session was lost (a StateChange with ContinuityLost): a kill must be resumed, not start a new session; see TestLostHelloKeepsSession")

// flowed waits until at least n messages have crossed each way.
func flowed(ctx context.Context, r *rig, n int) error {
	wctx, cancel := context.WithTimeout(ctx, stallWait)
	defer cancel()
	lost := false
	err := r.obs.wait(wctx, func() bool {
		lost = r.obs.continuityLost > 0
		return lost || len(r.obs.down) >= n
	})
	switch {
	case lost:
		return errSessionLost
	case err != nil:
		return err
	}
	if _, err = r.srv.WaitReceived(wctx, n); err != nil && r.obs.snapshot().continuityLost > 0 {
		return errSessionLost
	}
	return err
}

func firstErr(m map[int]error) error {
	for _, err := range m {
		return err
	}
	return nil
}

// chaosSeed returns CHAOS_SEED, or a fresh seed, which the run logs. The
// seed fixes the random choices of a run (DropEvery's n, limit_data's
// bytes, where in a stretch of traffic a kill lands); the timing of the
// machine still varies.
func chaosSeed(t *testing.T) uint64 {
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED: %v", err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// weather is the background trouble of a run: latency and slicing for
// stretches of it, and, when switching, refusals that push the client from
// one transport to another. It depends only on the kill count, so a run's
// weather is the same whatever the timing.
type weather struct {
	t         *testing.T
	r         *rig
	switching bool
}

// The stretches of a run, in kills, with latency and with slicing.
func latency(kills int) bool { return kills >= 10 && kills < 30 || kills >= 60 && kills < 80 }
func slicing(kills int) bool { return kills >= 30 && kills < 40 || kills >= 85 && kills < 95 }

// changes reports whether set(kills) would change anything.
func (w *weather) changes(kills int) bool {
	if kills == 0 {
		return false // nothing is in force at first
	}
	if latency(kills) != latency(kills-1) || slicing(kills) != slicing(kills-1) {
		return true
	}
	if !w.switching {
		return false
	}
	now, before := w.refusals(kills), w.refusals(kills-1)
	for tr := range now {
		if now[tr] != before[tr] {
			return true
		}
	}
	return false
}

func (w *weather) set(kills int) {
	w.toxic(latency(kills), toxic{Name: "lat-down", Type: "latency", Stream: "downstream",
		Attributes: map[string]int{"latency": 15, "jitter": 10}})
	w.toxic(latency(kills), toxic{Name: "lat-up", Type: "latency", Stream: "upstream",
		Attributes: map[string]int{"latency": 10}})
	// 1–5-byte pieces: every frame and every event line arrives torn.
	slices := map[string]int{"average_size": 3, "size_variation": 2, "delay": 0}
	w.toxic(slicing(kills), toxic{Name: "slice-down", Type: "slicer", Stream: "downstream", Attributes: slices})
	w.toxic(slicing(kills) && kills >= 85, toxic{Name: "slice-up", Type: "slicer", Stream: "upstream", Attributes: slices})
	if !w.switching {
		return
	}
	for _, tr := range []string{"websocket", "sse", "longpoll"} {
		w.refuse(tr, w.refusals(kills)[tr])
	}
}

// refusals returns the transports the server refuses after kills kills, in
// a cycle of 12: none, so websocket; websocket, so sse; websocket and sse,
// so longpoll; websocket and longpoll, so sse again; none, so the probe
// upgrades the live session back to websocket.
func (w *weather) refusals(kills int) map[string]bool {
	phase := kills % 12
	return map[string]bool{
		"websocket": phase >= 3 && phase < 11,
		"sse":       phase >= 6 && phase < 9,
		"longpoll":  phase >= 9 && phase < 11,
	}
}

// settled checks that the kill made under the weather of set(kills) moved
// the client off every refused transport, and, where websocket is served,
// back onto it: by a live upgrade if the reconnect landed elsewhere. Which
// lesser transport a reconnect lands on is not checked: a network fault
// during the attempt rightly sends it further down the list.
func (w *weather) settled(ctx context.Context, kills int) {
	w.t.Helper()
	refused := w.refusals(kills)
	ok := func(tr string) bool { return tr != "" && !refused[tr] }
	want := "a served transport"
	if !refused["websocket"] {
		ok = func(tr string) bool { return tr == "websocket" }
		want = "websocket"
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	obs := w.r.obs
	if err := obs.wait(wctx, func() bool { return ok(obs.transport) }); err != nil {
		w.t.Errorf("after kill %d (refused %v): on %q, want %s: %s", kills+1, refused, w.r.c.Transport(), want, obs.describe())
	}
}

func (w *weather) toxic(on bool, tx toxic) {
	switch {
	case on && !w.r.proxy.on(tx.Name):
		w.r.proxy.add(w.t, tx)
	case !on && w.r.proxy.on(tx.Name):
		w.r.proxy.remove(w.t, tx.Name)
	}
}

func (w *weather) refuse(name string, on bool) {
	status := 0
	if on {
		status = 403
	}
	w.r.srv.RefuseTransport(name, status)
}
