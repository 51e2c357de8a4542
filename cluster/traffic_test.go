package cluster

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/transport"
)

// member is one client of the run: it publishes to the next member's
// channel and receives the previous member's publishes on its own.
type member struct {
	i    int
	from string // the sender's index
	c    *realtime.Client
	tr   string

	mu         sync.Mutex
	got        []int // the sender's indexes, in delivery order
	foreign    int   // messages not from the sender
	reconnects int   // back to Connected after a loss
	resumed    int   // of which the session was resumed
	acked      map[int]bool
	failed     int // publishes that failed (session lost, closed)
}

func (m *member) handle(msg realtime.Message) {
	from, idx, ok := strings.Cut(string(msg.Data), ":")
	n, err := strconv.Atoi(idx)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !ok || err != nil || from != m.from {
		m.foreign++
		return
	}
	m.got = append(m.got, n)
}

func (m *member) change(ch realtime.StateChange) {
	if ch.To != realtime.StateConnected || ch.From == realtime.StateConnecting || ch.From == realtime.StateConnected {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reconnects++
	if !ch.ContinuityLost {
		m.resumed++
	}
}

// runConfig is one run's shape.
type runConfig struct {
	clients, messages int
	transports        []transport.Transport // client i uses transports[i % len]
	span              time.Duration         // each client's publishes are spread over it
	killEvery         time.Duration         // SIGKILL and restart a node this often
	restartNATS       bool                  // restart one NATS node once
}

// counts are what a run measured.
type counts struct {
	published, acked, failed       int
	lost, duplicated, reordered    int // server → client, of acked publishes
	onPublish, onPublishUnique     int // publish-log lines, and distinct (session, seq)
	onPublishRepeats               int // second calls for one publish
	onPublishUnexplained           int // publishes repeated without a kill of the first node
	reconnects, resumed, nodeKills int
	natsRestarts                   int
	startFailures                  int // node restarts that exited before listening
	elapsed                        time.Duration
}

func (c counts) String() string {
	return fmt.Sprintf("published %d (acked %d, failed %d); down: lost %d, duplicated %d, reordered %d; "+
		"OnPublish calls %d (distinct %d, repeated %d, %d of them unexplained); reconnects %d, resumed %d; node kills %d (restarts that exited first %d), NATS restarts %d; %s",
		c.published, c.acked, c.failed, c.lost, c.duplicated, c.reordered, c.onPublish, c.onPublishUnique,
		c.onPublishRepeats, c.onPublishUnexplained, c.reconnects, c.resumed, c.nodeKills, c.startFailures, c.natsRestarts, c.elapsed.Round(time.Millisecond))
}

// runCluster starts the cluster, runs the traffic under kills and
// returns what it measured.
func runCluster(t *testing.T, rc runConfig) counts {
	needPeers(t)
	if only := os.Getenv("CLUSTER_TRANSPORTS"); only != "" {
		// For looking at the harness alone: CLUSTER_TRANSPORTS=websocket.
		rc.transports = slices.DeleteFunc(rc.transports, func(tp transport.Transport) bool {
			return !slices.Contains(strings.Split(only, ","), tp.Name())
		})
		if len(rc.transports) == 0 {
			t.Skipf("CLUSTER_TRANSPORTS=%s leaves no transport", only)
		}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), scaled(170*time.Second))
	defer cancel()
	dir := t.TempDir()
	if keep := os.Getenv("CLUSTER_LOG_DIR"); keep != "" {
		// Keep the processes' logs for a look after the run.
		dir = filepath.Join(keep, t.Name())
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	nc := startNATS(t, ctx, dir)
	rn := startNodes(t, ctx, dir, nc, 3)
	base := startHAProxy(t, ctx, dir, rn)
	t.Logf("cluster up in %s", time.Since(start).Round(time.Millisecond))

	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	members := make([]*member, rc.clients)
	for i := range members {
		m := &member{i: i, from: strconv.Itoa((i + rc.clients - 1) % rc.clients), acked: map[int]bool{}}
		tp := rc.transports[i%len(rc.transports)]
		m.tr = tp.Name()
		c, err := realtime.New(base, &realtime.Options{
			Transports:       []transport.Transport{tp},
			HTTPClient:       &http.Client{Transport: tr},
			HandshakeTimeout: 3 * time.Second,
			Reconnect:        reconnect.Policy{BaseDelay: 20 * time.Millisecond, MaxDelay: 500 * time.Millisecond},
			OnStateChange:    m.change,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		m.c = c
		members[i] = m
		cctx, ccancel := context.WithTimeout(ctx, scaled(20*time.Second))
		err = c.Connect(cctx)
		ccancel()
		if err != nil {
			t.Fatalf("client %d (%s) connect: %v", i, m.tr, err)
		}
		if _, err := c.Subscribe(ctx, channel(i), m.handle); err != nil {
			t.Fatalf("client %d subscribe: %v", i, err)
		}
	}

	// Faults: a node killed and restarted every killEvery, one NATS node
	// restarted once, until the publishers are done.
	var res counts
	pubCtx, pubCancel := context.WithTimeout(ctx, scaled(100*time.Second))
	defer pubCancel()
	faultsDone := make(chan struct{})
	stopFaults := make(chan struct{})
	go func() {
		defer close(faultsDone)
		tick := time.NewTicker(rc.killEvery)
		defer tick.Stop()
		for k := 0; ; k++ {
			select {
			case <-stopFaults:
				return
			case <-tick.C:
			}
			if rc.restartNATS && k == 3 {
				if err := nc.restart(t, ctx, 1); err != nil {
					t.Errorf("NATS restart: %v", err)
				}
				res.natsRestarts++
			}
			if err := rn.restart(t, ctx, k%len(rn.procs)); err != nil {
				t.Errorf("node restart: %v", err)
				return
			}
			res.nodeKills++
		}
	}()

	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() { publish(pubCtx, m, channel((i+1)%rc.clients), rc.messages, rc.span) })
	}
	wg.Wait()
	close(stopFaults)
	<-faultsDone

	// Every acked publish reaches its receiver, within a bound.
	drain, drainCancel := context.WithTimeout(ctx, scaled(30*time.Second))
	defer drainCancel()
	for i, m := range members {
		sender := members[(i+rc.clients-1)%rc.clients]
		for {
			sender.mu.Lock()
			want := len(sender.acked)
			sender.mu.Unlock()
			m.mu.Lock()
			have := len(m.got)
			m.mu.Unlock()
			if have >= want || drain.Err() != nil {
				break
			}
			select {
			case <-drain.Done():
			case <-time.After(100 * time.Millisecond): // polling a condition, bounded by drain
			}
		}
	}

	for i, m := range members {
		sender := members[(i+rc.clients-1)%rc.clients]
		sender.mu.Lock()
		m.mu.Lock()
		res.published += rc.messages
		res.acked += len(sender.acked)
		res.failed += sender.failed
		seen := map[int]bool{}
		last := -1
		for _, n := range m.got {
			if seen[n] {
				res.duplicated++
				continue
			}
			seen[n] = true
			if n < last {
				res.reordered++
			}
			last = max(last, n)
		}
		lost := 0
		for n := range sender.acked {
			if !seen[n] {
				lost++
			}
		}
		res.lost += lost
		if lost > 0 || sender.failed > 0 || m.resumed < m.reconnects {
			t.Logf("client %d (%s): received %d, lost %d of client %d's (%s) acked publishes; reconnects %d, resumed %d; its own failed publishes %d",
				i, m.tr, len(m.got), lost, (i+rc.clients-1)%rc.clients, sender.tr, m.reconnects, m.resumed, m.failed)
		}
		res.reconnects += m.reconnects
		res.resumed += m.resumed
		m.mu.Unlock()
		sender.mu.Unlock()
	}
	res.onPublish, res.onPublishUnique, res.onPublishRepeats, res.onPublishUnexplained = onPublishCounts(t, rn)
	res.startFailures = rn.startFailures
	res.elapsed = time.Since(start)
	t.Logf("counts: %s", res)
	fmt.Fprintf(os.Stderr, "cluster %s: %s\n", t.Name(), res)
	return res
}

func channel(i int) string { return "c" + strconv.Itoa(i) }

// publish sends n messages "<sender>:<index>" over span, with at most 256 awaiting
// their acknowledgement, and records which were acknowledged.
func publish(ctx context.Context, m *member, ch string, n int, span time.Duration) {
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	// Paced over span, so that the kills fall amid the traffic.
	pace := time.NewTicker(span / time.Duration(n))
	defer pace.Stop()
	for k := range n {
		select {
		case <-pace.C:
		case <-ctx.Done():
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			m.mu.Lock()
			m.failed += n - k
			m.mu.Unlock()
			wg.Wait()
			return
		}
		r, err := m.c.PublishAsync(ch, fmt.Appendf(nil, "%d:%d", m.i, k))
		if err != nil {
			<-sem
			m.mu.Lock()
			m.failed++
			m.mu.Unlock()
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			err := r.Wait(ctx)
			m.mu.Lock()
			defer m.mu.Unlock()
			if err == nil {
				m.acked[k] = true
			} else {
				m.failed++
			}
		})
	}
	wg.Wait()
}

// onPublishCounts reads the nodes' publish logs: the OnPublish calls,
// the distinct publishes (session, client seq) among them, the repeats,
// and the repeats not explained by a kill. A publish may be seen by
// OnPublish a second time, on another node, only when the node of the
// first call was killed after that call and before the publish was
// stored: so the first line of a repeated publish must come from a node
// killed after it.
func onPublishCounts(t *testing.T, rn *rtNodes) (calls, distinct, repeats, unexplained int) {
	shown := 0
	type line struct {
		node int
		at   time.Time
	}
	byKey := map[string][]line{}
	for node, file := range rn.logs {
		f, err := os.Open(file)
		if err != nil {
			t.Errorf("publish log: %v", err)
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			at, err := time.Parse(time.RFC3339Nano, fields[0])
			if len(fields) != 5 || err != nil {
				t.Errorf("publish log %s: malformed line %q", file, sc.Text())
				continue
			}
			calls++
			key := fields[1] + " " + fields[2]
			byKey[key] = append(byKey[key], line{node, at})
		}
		f.Close()
	}
	rn.mu.Lock()
	defer rn.mu.Unlock()
	for _, lines := range byKey {
		if len(lines) < 2 {
			continue
		}
		repeats += len(lines) - 1
		first := slices.MinFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
		if !slices.ContainsFunc(rn.kills[first.node], func(k time.Time) bool { return k.After(first.at) }) {
			unexplained++
			if shown++; shown <= 5 {
				var where []string
				for _, l := range lines {
					where = append(where, fmt.Sprintf("n%d at %s", l.node+1, l.at.Format("15:04:05.000")))
				}
				var kills []string
				for _, k := range rn.kills[first.node] {
					kills = append(kills, k.Format("15:04:05.000"))
				}
				t.Logf("OnPublish repeated without a kill of n%d after its first call: %s (n%d killed at %s)",
					first.node+1, strings.Join(where, ", "), first.node+1, strings.Join(kills, " "))
			}
		}
	}
	return calls, len(byKey), repeats, unexplained
}
