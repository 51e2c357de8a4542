package realtime_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/store/filestore"
)

// crashChildEnv makes the test binary the crash test's child: an agent on
// a file store that publishes as fast as it can and records what its
// handler handled.
const crashChildEnv = "REALTIME_CRASH_CHILD"

// crashChild is the child's whole life: it connects with the store in
// dir, subscribes "down", and publishes "up" messages named after its
// life, printing "a <life> <k>" once PublishAsync(k) returned, until it is
// killed. Its handler appends each "down" message to dir/handled, once:
// a message marked Redelivered that the file already holds is skipped,
// which is what an application whose effect must not happen twice does.
func crashChild() {
	url, dir, life := os.Getenv("REALTIME_CRASH_URL"), os.Getenv("REALTIME_CRASH_DIR"), os.Getenv(crashChildEnv)
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(2)
	}
	handledPath := filepath.Join(dir, "handled")
	last := -1
	if b, err := os.ReadFile(handledPath); err == nil {
		lines := strings.Fields(string(b))
		if len(lines) > 0 {
			last, _ = strconv.Atoi(lines[len(lines)-1])
		}
	}
	handled, err := os.OpenFile(handledPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		fail(err)
	}
	st, err := filestore.Open(filepath.Join(dir, "store"), nil)
	if err != nil {
		fail(err)
	}
	c, err := realtime.New(url, &realtime.Options{Store: st, Reconnect: realtime.Options{}.Reconnect})
	if err != nil {
		fail(err)
	}
	fmt.Println("restored", c.Stats().Restored, c.Stats().StoreDamage.Records)
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		fail(err)
	}
	var skipped int
	_, err = c.Subscribe(ctx, "down", func(m realtime.Message) {
		n, _ := strconv.Atoi(string(m.Data))
		if m.Redelivered && n <= last {
			skipped++
			fmt.Println("skipped", n)
			return
		}
		if _, err := handled.WriteString(fmt.Sprintf("%d\n", n)); err != nil {
			fail(err)
		}
		last = n
	})
	if err != nil {
		fail(err)
	}
	fmt.Println("subscribed")
	for k := 0; k < 1_000_000; k++ {
		_, err := c.PublishAsync("up", fmt.Appendf(nil, "%s %d", life, k))
		for err == realtime.ErrOutboxFull {
			time.Sleep(time.Millisecond) // the child waits for room; the test does not sleep
			_, err = c.PublishAsync("up", fmt.Appendf(nil, "%s %d", life, k))
		}
		if err != nil {
			fail(err)
		}
		fmt.Println("a", life, k)
	}
	select {} // killed
}

// crashRun is one child process and what it printed.
type crashRun struct {
	cmd        *exec.Cmd
	mu         sync.Mutex
	accepted   int // the highest k printed, +1
	skipped    int // messages marked Redelivered its handler had handled
	subscribed bool
	kick       chan struct{}
	done       chan struct{} // stdout read to the end
	errLine    string
}

func startCrashChild(t *testing.T, url, dir string, life int) *crashRun {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	args := []string{exe, "-test.run=^$"}
	if emu := os.Getenv("REALTIME_TEST_EMULATOR"); emu != "" {
		args = append([]string{emu}, args...) // qemu-user without binfmt_misc
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), crashChildEnv+"="+strconv.Itoa(life), "REALTIME_CRASH_URL="+url, "REALTIME_CRASH_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	r := &crashRun{cmd: cmd, kick: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if os.Getenv("CRASH_DEBUG") != "" && (len(f) == 0 || f[0] != "a") {
				fmt.Fprintln(os.Stderr, "child:", sc.Text())
			}
			r.mu.Lock()
			switch {
			case len(f) == 3 && f[0] == "a":
				k, _ := strconv.Atoi(f[2])
				r.accepted = k + 1
			case len(f) == 1 && f[0] == "subscribed":
				r.subscribed = true
			case len(f) == 2 && f[0] == "skipped":
				r.skipped++
			case len(f) > 0 && f[0] == "error":
				r.errLine = sc.Text()
			}
			close(r.kick)
			r.kick = make(chan struct{})
			r.mu.Unlock()
		}
	}()
	return r
}

// waitFor waits until cond holds on what the child printed.
func (r *crashRun) waitFor(ctx context.Context, cond func() bool) error {
	for {
		r.mu.Lock()
		ok, kick, errLine := cond(), r.kick, r.errLine
		r.mu.Unlock()
		if errLine != "" {
			return fmt.Errorf("child: %s", errLine)
		}
		if ok {
			return nil
		}
		select {
		case <-kick:
		case <-r.done:
			return fmt.Errorf("child exited: %v", r.cmd.Wait())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// kill SIGKILLs the child and waits for it and its output.
func (r *crashRun) kill() {
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	_ = r.cmd.Wait()
}

// TestCrashedAgentLosesNothing kills an agent process on a file store with
// SIGKILL at 50 random moments, some while it publishes, some while the
// server is unreachable, some while it connects and resumes, and restarts
// it on the same store each time. Every publish whose PublishAsync had
// returned before a kill (the store syncs every publish) reaches the
// server exactly once, in order, and none arrives twice; every message the
// server sent is handled exactly once across the restarts.
func TestCrashedAgentLosesNothing(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("in the child")
	}
	srv := newServer(t, nil)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	ctx := testCtx(t, 10*time.Minute)

	// The server publishes "down" messages while the test runs, from the
	// first life's subscription on.
	stopDown := make(chan struct{})
	var downs int
	var downWG sync.WaitGroup
	publishDowns := func() {
		defer downWG.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for downs < 20_000 { // bounded
			select {
			case <-stopDown:
				return
			case <-tick.C:
			}
			if err := srv.Publish(ctx, "down", []byte(strconv.Itoa(downs))); err != nil {
				return
			}
			downs++
		}
	}
	defer func() {
		close(stopDown)
		downWG.Wait()
	}()

	accepted := map[int]int{} // life -> publishes printed as accepted
	phases := map[string]int{}
	skipped := 0
	const kills = 50
	for life := 0; life <= kills; life++ {
		child := startCrashChild(t, srv.URL(), dir, life)
		if life == kills {
			// The last life is not killed: it drains what the others left.
			setDown(srv, false)
			require.NoError(t, child.waitFor(ctx, func() bool { return child.subscribed }))
			close(stopDown)
			downWG.Wait()
			stopDown = make(chan struct{})
			checkCrashResults(t, ctx, srv, dir, accepted, downs, child)
			child.kill()
			t.Logf("kills: %v; messages handled before a kill and redelivered (marked, skipped by the handler): %d", phases, skipped+child.skipped)
			return
		}
		if life == 0 {
			require.NoError(t, child.waitFor(ctx, func() bool { return child.subscribed }))
			downWG.Add(1)
			go publishDowns()
		}
		phase := []string{"while publishing", "while disconnected", "while connecting or resuming"}[rng.IntN(3)]
		phases[phase]++
		switch phase {
		case "while publishing":
			setDown(srv, false)
			require.NoError(t, child.waitFor(ctx, func() bool { return child.subscribed }))
			waitRandom(ctx, rng, 300*time.Millisecond)
		case "while disconnected":
			setDown(srv, false)
			require.NoError(t, child.waitFor(ctx, func() bool { return child.subscribed }))
			waitRandom(ctx, rng, 100*time.Millisecond)
			setDown(srv, true)
			waitRandom(ctx, rng, 300*time.Millisecond)
		default:
			// Down, then up, and the kill lands in the reconnect and its
			// resume; or the kill lands in the first connect of a life.
			setDown(srv, false)
			if rng.IntN(2) == 0 {
				require.NoError(t, child.waitFor(ctx, func() bool { return child.subscribed }))
				setDown(srv, true)
				waitRandom(ctx, rng, 100*time.Millisecond)
				setDown(srv, false)
			}
			waitRandom(ctx, rng, 50*time.Millisecond)
		}
		child.kill()
		t.Logf("life %d killed %s", life, phase)
		child.mu.Lock()
		accepted[life] = child.accepted
		skipped += child.skipped
		errLine := child.errLine
		child.mu.Unlock()
		require.Empty(t, errLine)
	}
}

// waitRandom waits up to max, or until ctx ends: the random moment of a
// kill, not a wait for something to happen.
func waitRandom(ctx context.Context, rng *rand.Rand, max time.Duration) {
	select {
	case <-time.After(time.Duration(rng.Int64N(int64(max)))):
	case <-ctx.Done():
	}
}

// checkCrashResults waits until the server received every publish the
// lives printed as accepted and the last life handled every "down"
// message, then checks both for losses, duplicates and order.
func checkCrashResults(t *testing.T, ctx context.Context, srv *mock.Server, dir string, accepted map[int]int, downs int, last *crashRun) {
	t.Helper()
	want := 0
	for _, n := range accepted {
		want += n
	}
	// Every accepted publish arrives; some accepted but not printed
	// before their kill may arrive too, and the last life publishes on.
	var ups []string
	err := srv.WaitFor(ctx, func() bool {
		ups = ups[:0]
		seen := map[int]int{}
		for _, m := range srv.Received() {
			if m.Channel == "up" {
				ups = append(ups, string(m.Data))
				var life, k int
				fmt.Sscanf(string(m.Data), "%d %d", &life, &k)
				seen[life] = max(seen[life], k+1)
			}
		}
		for life, n := range accepted {
			if seen[life] < n {
				return false
			}
		}
		return true
	})
	require.NoError(t, err, "the server did not receive every accepted publish")
	var lost, dup, order, got int
	type key struct{ life, k int }
	seen := map[key]bool{}
	prev := key{-1, -1}
	for _, u := range ups {
		var k key
		_, err := fmt.Sscanf(u, "%d %d", &k.life, &k.k)
		require.NoError(t, err)
		switch {
		case seen[k]:
			dup++
		case k.life < prev.life || k.life == prev.life && k.k < prev.k:
			order++
		}
		seen[k] = true
		prev = k
		got++
	}
	for life, n := range accepted {
		for k := range n {
			if !seen[key{life, k}] {
				lost++
			}
		}
	}
	// The last life handles every "down" message the server published.
	handled := func() []string {
		b, _ := os.ReadFile(filepath.Join(dir, "handled"))
		return strings.Fields(string(b))
	}
	require.NoError(t, last.waitFor(ctx, func() bool { return len(handled()) >= downs }), "handled %d of %d", len(handled()), downs)
	var hdup, horder int
	hs := handled()
	for i, h := range hs {
		n, _ := strconv.Atoi(h)
		if n < i {
			hdup++
		} else if n > i {
			horder++
		}
	}
	t.Logf("client->server: %d accepted before a kill, %d received, %d lost, %d duplicated, %d out of order", want, got, lost, dup, order)
	t.Logf("server->client: %d published, %d handled, %d duplicated, %d out of order", downs, len(hs), hdup, horder)
	require.Zero(t, lost)
	require.Zero(t, dup)
	require.Zero(t, order)
	require.Equal(t, downs, len(hs))
	require.Zero(t, hdup)
	require.Zero(t, horder)
}
