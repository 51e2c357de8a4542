package realtime_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
)

// recorder collects state changes and deliveries and lets a test wait on
// them with a deadline.
type recorder struct {
	mu      sync.Mutex
	changes []realtime.StateChange
	msgs    []realtime.Message
	kick    chan struct{}
}

func newRecorder() *recorder { return &recorder{kick: make(chan struct{})} }

func (r *recorder) change(ch realtime.StateChange) {
	r.mu.Lock()
	r.changes = append(r.changes, ch)
	r.wakeLocked()
	r.mu.Unlock()
}

func (r *recorder) handle(m realtime.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.wakeLocked()
	r.mu.Unlock()
}

func (r *recorder) wakeLocked() {
	close(r.kick)
	r.kick = make(chan struct{})
}

// wait blocks until cond (called under the lock) holds or ctx ends.
func (r *recorder) wait(ctx context.Context, cond func() bool) error {
	for {
		r.mu.Lock()
		ok, kick := cond(), r.kick
		r.mu.Unlock()
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

func (r *recorder) waitMsgs(t *testing.T, ctx context.Context, n int) []realtime.Message {
	t.Helper()
	err := r.wait(ctx, func() bool { return len(r.msgs) >= n })
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NoError(t, err, "received %d of %d messages", len(r.msgs), n)
	return append([]realtime.Message(nil), r.msgs...)
}

// waitChange waits for a state change matching pred and returns it.
func (r *recorder) waitChange(t *testing.T, ctx context.Context, pred func(realtime.StateChange) bool) realtime.StateChange {
	t.Helper()
	var found realtime.StateChange
	err := r.wait(ctx, func() bool {
		for _, ch := range r.changes {
			if pred(ch) {
				found = ch
				return true
			}
		}
		return false
	})
	require.NoError(t, err, "no matching state change among %v", r.snapshot())
	return found
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ch := range r.changes {
		out = append(out, fmt.Sprintf("%s->%s(%s: %v)", ch.From, ch.To, ch.Reason, ch.Err))
	}
	return out
}

// connect makes a client of srv with rec wired in, connects it and closes
// it at cleanup.
func connect(t *testing.T, ctx context.Context, srv *mock.Server, opts *realtime.Options, rec *recorder) *realtime.Client {
	t.Helper()
	if opts == nil {
		opts = &realtime.Options{}
	}
	if rec != nil {
		opts.OnStateChange = rec.change
	}
	if opts.Reconnect.BaseDelay == 0 {
		opts.Reconnect.BaseDelay = 10 * time.Millisecond
		opts.Reconnect.MaxDelay = 100 * time.Millisecond
	}
	c, err := realtime.New(srv.URL(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Connect(ctx))
	return c
}

// testCtx bounds a test. REALTIME_TEST_TIMEOUT_SCALE stretches the bound
// where everything runs slower, as under qemu (.ci/arm.sh sets it).
func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), scaled(d))
	t.Cleanup(cancel)
	return ctx
}

// scaled stretches a time bound by REALTIME_TEST_TIMEOUT_SCALE, for bounds
// that a slow machine (qemu) cannot keep but that still catch a wait of
// the wrong kind on a normal one.
func scaled(d time.Duration) time.Duration {
	if f, err := strconv.ParseFloat(os.Getenv("REALTIME_TEST_TIMEOUT_SCALE"), 64); err == nil && f > 1 {
		return time.Duration(float64(d) * f)
	}
	return d
}

func newServer(t *testing.T, opts *mock.Options) *mock.Server {
	srv := mock.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// stallProxy forwards TCP connections to a target on 127.0.0.1 and can
// stall them all: while stalled it forwards nothing either way but keeps
// every connection open, as a dead path does (a half-open connection, a
// router that dropped its state).
type stallProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	stalled bool
	resume  chan struct{} // closed when a stall ends
	wg      sync.WaitGroup
	conns   map[net.Conn]struct{}
}

func newStallProxy(t *testing.T, targetURL string) (*stallProxy, string) {
	t.Helper()
	u, err := url.Parse(targetURL)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &stallProxy{ln: ln, target: u.Host, resume: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.resume)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p, "http://" + ln.Addr().String()
}

func (p *stallProxy) stall(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on && !p.stalled {
		p.resume = make(chan struct{})
	} else if !on && p.stalled {
		close(p.resume)
	}
	p.stalled = on
}

func (p *stallProxy) gate() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resume
}

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

// pipe copies src to dst, holding each chunk while the proxy is stalled.
func (p *stallProxy) pipe(src, dst net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			<-p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *stallProxy) close() {
	p.ln.Close()
	p.stall(false)
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (r *recorder) snapshotChanges() []realtime.StateChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]realtime.StateChange(nil), r.changes...)
}

// subscribed drops Subscribe's subscription, for tests that keep it for
// the client's life.
func subscribed(_ *realtime.Subscription, err error) error { return err }
