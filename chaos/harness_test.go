package chaos

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
)

// The channels of the two directions.
const (
	upChannel   = "up"   // client → server
	downChannel = "down" // server → client
)

// Timing of every rig: a short heartbeat so that a stalled connection is
// noticed within a second, and short backoff so that a hundred kills fit
// in a CI run.
const (
	heartbeat        = 500 * time.Millisecond
	heartbeatGrace   = 300 * time.Millisecond
	handshakeTimeout = 2 * time.Second
	baseDelay        = 10 * time.Millisecond
	maxDelay         = 200 * time.Millisecond
)

// payloadPad makes each payload about 64 bytes, so that a byte limit or a
// slicer lands inside an event rather than between small ones.
var payloadPad = strings.Repeat("x", 52)

func payload(i int) []byte { return fmt.Appendf(nil, "%010d|%s", i, payloadPad) }

func index(data []byte) (int, bool) {
	if len(data) < 11 || data[10] != '|' {
		return 0, false
	}
	i, err := strconv.Atoi(string(data[:10]))
	return i, err == nil
}

// rig is one mock server behind one proxy, and one client dialling it.
type rig struct {
	srv   *mock.Server
	proxy *netProxy
	c     *realtime.Client
	obs   *observer
}

type rigConfig struct {
	transports []transport.Transport
	upgrade    time.Duration // Options.UpgradeInterval
}

func newRig(t *testing.T, ctx context.Context, cfg rigConfig) *rig {
	t.Helper()
	srv := mock.NewServer(&mock.Options{Server: server.Config{Heartbeat: heartbeat, Logger: debugLogger()}})
	t.Cleanup(srv.Close)
	np, base := startProxy(t, srv.URL())
	// A transport of its own, so that its pooled connections can be closed
	// at the end instead of outliving the test, and with no Proxy, so that
	// nothing from the environment sits between the client and toxiproxy.
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	obs := newObserver()
	c, err := realtime.New(base, &realtime.Options{
		Transports:       cfg.transports,
		UpgradeInterval:  cfg.upgrade,
		HandshakeTimeout: handshakeTimeout,
		HeartbeatGrace:   heartbeatGrace,
		HTTPClient:       &http.Client{Transport: tr},
		Reconnect:        reconnect.Policy{BaseDelay: baseDelay, MaxDelay: maxDelay},
		OnStateChange:    obs.change,
		Logger:           debugLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// Runs first: a test that failed with a fault in force must not leave
	// its clean-up waiting on it.
	t.Cleanup(func() { heal(t, srv, np) })
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	if _, err := c.Subscribe(ctx, downChannel, obs.handle); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return &rig{srv: srv, proxy: np, c: c, obs: obs}
}

// debugLogger shows the client's and the server's own account of a run
// when CHAOS_DEBUG is set, and nothing otherwise.
func debugLogger() *slog.Logger {
	if os.Getenv("CHAOS_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// heal turns every fault off.
func heal(t *testing.T, srv *mock.Server, np *netProxy) {
	if err := np.reset(); err != nil {
		t.Errorf("removing the toxics: %v", err)
	}
	srv.DropEvery(0)
	for _, name := range []string{"websocket", "sse", "longpoll"} {
		srv.RefuseTransport(name, 0)
	}
}

// observer records what the client reports: deliveries on downChannel and
// state changes. Both arrive on the client's dispatcher, in order.
type observer struct {
	mu   sync.Mutex
	kick chan struct{}

	down      []int  // indexes delivered, in delivery order
	maxDown   int    // highest index delivered, -1 before any
	transport string // of the live connection, "" while there is none
	lastLoss  realtime.StateChange
	recent    []string // the last state changes, for failure messages
	stats
}

// stats are the observer's counts.
type stats struct {
	malformed      int
	markers        int
	losses         int // Connected → Reconnecting
	reconnects     int // back to Connected after a loss
	upgrades       int // Connected → Connected on a better transport
	failedAttempts int
	resets         int // failed attempts that met a TCP reset
	continuityLost int
	byTransport    map[string]int // Connected changes by transport
	final          error          // set if the client reached Failed
}

// snapshot returns the counts as they stand.
func (o *observer) snapshot() stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.stats
	s.byTransport = maps.Clone(o.byTransport)
	return s
}

func newObserver() *observer {
	return &observer{kick: make(chan struct{}), maxDown: -1, stats: stats{byTransport: make(map[string]int)}}
}

func (o *observer) handle(m realtime.Message) {
	i, ok := index(m.Data)
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case bytes.Equal(m.Data, marker):
		o.markers++
	case !ok:
		o.malformed++
	default:
		o.down = append(o.down, i)
		o.maxDown = max(o.maxDown, i)
	}
	o.wakeLocked()
}

func (o *observer) change(ch realtime.StateChange) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case ch.From == realtime.StateConnected && ch.To == realtime.StateReconnecting:
		o.losses++
		o.lastLoss = ch
	case ch.To == realtime.StateConnected && ch.From == realtime.StateConnected:
		o.upgrades++
	case ch.To == realtime.StateConnected && ch.From != realtime.StateConnecting:
		o.reconnects++
	case ch.Attempt > 0: // only a failed attempt carries its number
		o.failedAttempts++
		if ch.Err != nil && strings.Contains(ch.Err.Error(), "connection reset by peer") {
			o.resets++
		}
	case ch.To.Final() && ch.To != realtime.StateClosed:
		o.final = fmt.Errorf("client reached %s: %v", ch.To, ch.Err)
	}
	o.transport = ""
	if ch.To == realtime.StateConnected {
		o.byTransport[ch.Transport]++
		o.transport = ch.Transport
	}
	if ch.ContinuityLost {
		o.continuityLost++
	}
	o.recent = append(o.recent, fmt.Sprintf("%s→%s %s %s (%v)", ch.From, ch.To, ch.Transport, ch.Reason, ch.Err))
	if len(o.recent) > 12 {
		o.recent = o.recent[1:]
	}
	o.wakeLocked()
}

func (o *observer) wakeLocked() {
	close(o.kick)
	o.kick = make(chan struct{})
}

// wait blocks until cond, called under the observer's lock, holds, or ctx
// ends.
func (o *observer) wait(ctx context.Context, cond func() bool) error {
	for {
		o.mu.Lock()
		ok, kick := cond(), o.kick
		o.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-kick:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// read calls f under the observer's lock.
func (o *observer) read(f func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f()
}

func (o *observer) delivered() (n int) {
	o.read(func() { n = len(o.down) })
	return n
}

func (o *observer) lossCount() (n int) {
	o.read(func() { n = o.losses })
	return n
}

func (o *observer) describe() (s string) {
	o.read(func() {
		s = fmt.Sprintf("delivered=%d losses=%d reconnects=%d attempts-failed=%d recent=%q",
			len(o.down), o.losses, o.reconnects, o.failedAttempts, o.recent)
	})
	return s
}

// tally checks a stream of indexes against 0..n-1 delivered in order
// exactly once: lost are the indexes never seen, dup the repeats, and
// reordered the first sightings that came after a higher index.
func tally(seen []int, n int) (lost, dup, reordered int) {
	got := make([]bool, n)
	high := -1
	distinct := 0
	for _, i := range seen {
		if i < 0 || i >= n {
			reordered++ // an index never sent is as wrong as a misplaced one
			continue
		}
		if got[i] {
			dup++
			continue
		}
		got[i] = true
		distinct++
		if i < high {
			reordered++
		}
		high = max(high, i)
	}
	return n - distinct, dup, reordered
}

// upIndexes returns the indexes of what the server received on upChannel,
// in the order it processed them.
func upIndexes(srv *mock.Server) (idx []int, malformed int) {
	for _, m := range srv.Received() {
		if m.Channel != upChannel {
			continue
		}
		if i, ok := index(m.Data); ok {
			idx = append(idx, i)
		} else {
			malformed++
		}
	}
	return idx, malformed
}
