//go:build linux

package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/fallback"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/transport"
)

const (
	roundTrips = 50
	// caseDeadline bounds one case end to end, proxies' start and stop aside.
	caseDeadline = 30 * time.Second
	// shortHandshake is the HandshakeTimeout of the cases that must give up
	// on a buffered event stream: the default 5 s would make them slow.
	shortHandshake = time.Second
	// fastRefusal is what a refused transport attempt may cost at most: a
	// refusal is one round trip, and anything near HandshakeTimeout means
	// the client waited for the deadline instead of believing the status.
	fastRefusal = 500 * time.Millisecond
)

func TestSquidForwardProxyStripsUpgrade(t *testing.T) {
	t.Parallel()
	srv := newApp(t)
	sq := startSquid(t)
	proxyURL := &url.URL{Scheme: "http", Host: sq.addr}
	// ProxyFromEnvironment never proxies 127.0.0.1, so the proxy is named.
	res := run(t, srv, srv.URL(), &http.Transport{Proxy: http.ProxyURL(proxyURL)}, 0, "squid", "sse")
	res.requireRefused(t, "websocket", http.StatusUpgradeRequired)
	res.requireWellUnderHandshakeTimeout(t)
}

func TestNginxWithoutUpgradeStreamsSSE(t *testing.T) {
	t.Parallel()
	srv := newApp(t)
	ng := startNginx(t, appAddr(t, srv), `proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_buffering off;`)
	res := run(t, srv, "http://"+ng.addr, nil, 0, "nginx-no-upgrade", "sse")
	res.requireRefused(t, "websocket", http.StatusUpgradeRequired)
	res.requireWellUnderHandshakeTimeout(t)
}

func TestNginxBufferingHTTP10FallsToLongPoll(t *testing.T) {
	t.Parallel()
	srv := newApp(t)
	// The classic broken deployment: nginx's defaults.
	ng := startNginx(t, appAddr(t, srv), "")
	res := run(t, srv, "http://"+ng.addr, nil, shortHandshake, "nginx-buffering-http10", "longpoll")
	res.requireRefused(t, "websocket", http.StatusUpgradeRequired)
	res.requireNoFirstFrame(t, "sse")
	require.Less(t, res.took, shortHandshake+2*time.Second, "giving up on the buffered event stream took too long")
}

func TestNginxBufferingGzipFallsToLongPoll(t *testing.T) {
	t.Parallel()
	srv := newApp(t)
	ng := startNginx(t, appAddr(t, srv), `proxy_http_version 1.1;
			proxy_buffering on;
			gzip on;
			gzip_types text/event-stream;`)
	res := run(t, srv, "http://"+ng.addr, nil, shortHandshake, "nginx-buffering-gzip", "longpoll")
	res.requireRefused(t, "websocket", http.StatusUpgradeRequired)
	res.requireNoFirstFrame(t, "sse")
	require.Less(t, res.took, shortHandshake+2*time.Second, "giving up on the buffered event stream took too long")
}

func TestNginxPassingUpgradeKeepsWebSocket(t *testing.T) {
	t.Parallel()
	srv := newApp(t)
	ng := startNginx(t, appAddr(t, srv), `proxy_http_version 1.1;
			proxy_set_header Upgrade $http_upgrade;
			proxy_set_header Connection "upgrade";`)
	res := run(t, srv, "http://"+ng.addr, nil, 0, "nginx-upgrade", "websocket")
	require.Empty(t, res.failed, "no transport should have failed")
}

func TestHAProxyDenyingUpgradeFallsToSSE(t *testing.T) {
	t.Parallel()
	srv := newApp(t)
	hp := startHAProxy(t, appAddr(t, srv))
	res := run(t, srv, "http://"+hp.addr, nil, 0, "haproxy-deny-403", "sse")
	res.requireRefused(t, "websocket", http.StatusForbidden)
	res.requireWellUnderHandshakeTimeout(t)
}

// newApp starts the upstream application: the in-process mock server.
func newApp(t *testing.T) *mock.Server {
	srv := mock.NewServer(nil)
	t.Cleanup(srv.Close)
	return srv
}

func appAddr(t *testing.T, srv *mock.Server) string {
	u, err := url.Parse(srv.URL())
	require.NoError(t, err)
	return u.Host
}

// result is what one case measured.
type result struct {
	took      time.Duration        // from calling Connect to its return
	handshake time.Duration        // the HandshakeTimeout in force
	failed    map[string][]attempt // transport attempts that failed, by transport
}

// run connects a client to base through tr (nil: a direct HTTP transport
// of the test's own), checks it lands on want, and sends messages both ways
// through it.
func run(t *testing.T, srv *mock.Server, base string, tr *http.Transport, handshake time.Duration, name, want string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), caseDeadline)
	defer cancel()

	if tr == nil {
		tr = &http.Transport{}
	}
	// Registered before the client's Close so that it runs after it: Close
	// still talks to the server. Connections left idle to a proxy would
	// otherwise stay open, with their goroutines, until the proxy stops.
	t.Cleanup(tr.CloseIdleConnections)
	c, err := realtime.New(base, &realtime.Options{
		HTTPClient:       &http.Client{Transport: tr},
		HandshakeTimeout: handshake,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

	start := time.Now()
	err = c.Connect(ctx)
	took := time.Since(start)
	failed := failures(c.Attempts())
	require.NoError(t, err, "Connect (failed attempts: %v)", failed)
	t.Logf("proxy-connect case=%s transport=%s ms=%d", name, c.Transport(), took.Milliseconds())
	for tr, as := range failed {
		for _, a := range as {
			t.Logf("proxy-attempt case=%s transport=%s ms=%d err=%v", name, tr, a.took.Milliseconds(), a.err)
		}
	}
	require.Equal(t, want, c.Transport(), "transport (failed attempts: %v)", failed)

	exchange(t, ctx, c, srv)
	require.Equal(t, want, c.Transport(), "transport after the exchange")
	if handshake == 0 {
		handshake = realtime.DefaultHandshakeTimeout
	}
	return result{took: took, handshake: handshake, failed: failed}
}

// exchange publishes roundTrips messages on a channel the client is
// subscribed to, each acknowledged before the next, checks that every one
// comes back in order and reached the server, then checks that a message
// the server publishes reaches the client.
func exchange(t *testing.T, ctx context.Context, c *realtime.Client, srv *mock.Server) {
	t.Helper()
	in := newInbox()
	_, err := c.Subscribe(ctx, "echo", in.add)
	require.NoError(t, err)
	_, err = c.Subscribe(ctx, "push", in.add)
	require.NoError(t, err)

	want := make([]string, roundTrips)
	for i := range want {
		want[i] = fmt.Sprintf("echo %02d", i)
		require.NoError(t, c.Publish(ctx, "echo", []byte(want[i])), "publish %d", i)
	}
	got, err := in.wait(ctx, roundTrips)
	require.NoError(t, err, "echoes received: %d of %d", len(got), roundTrips)
	require.Equal(t, want, got[:roundTrips])

	recv, err := srv.WaitReceived(ctx, roundTrips)
	require.NoError(t, err)
	require.Len(t, recv, roundTrips)

	require.NoError(t, srv.Publish(ctx, "push", []byte("from the server")))
	got, err = in.wait(ctx, roundTrips+1)
	require.NoError(t, err, "the server's publish did not arrive")
	require.Equal(t, "push:from the server", got[roundTrips])
}

// inbox records deliveries and lets a test wait for them with a deadline.
type inbox struct {
	mu   sync.Mutex
	msgs []string
	kick chan struct{} // closed and replaced on every delivery
}

func newInbox() *inbox { return &inbox{kick: make(chan struct{})} }

func (in *inbox) add(m realtime.Message) {
	s := string(m.Data)
	if m.Channel != "echo" {
		s = m.Channel + ":" + s
	}
	in.mu.Lock()
	in.msgs = append(in.msgs, s)
	close(in.kick)
	in.kick = make(chan struct{})
	in.mu.Unlock()
}

func (in *inbox) wait(ctx context.Context, n int) ([]string, error) {
	for {
		in.mu.Lock()
		msgs, kick := append([]string(nil), in.msgs...), in.kick
		in.mu.Unlock()
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-kick:
		case <-ctx.Done():
			return msgs, ctx.Err()
		}
	}
}

// requireRefused checks that name's attempts failed with a handshake
// refused by status, which is what tells the proxy, not a timeout, did it.
func (r result) requireRefused(t *testing.T, name string, status int) {
	t.Helper()
	as := r.failed[name]
	require.NotEmpty(t, as, "no failed %s attempt was logged", name)
	for _, a := range as {
		var he *transport.HandshakeError
		require.ErrorAs(t, a.err, &he, "%s attempt", name)
		require.Equal(t, status, he.StatusCode, "%s attempt: %v", name, a.err)
		require.Less(t, a.took, fastRefusal, "%s attempt was refused, yet took long: %v", name, a.err)
	}
}

// requireWellUnderHandshakeTimeout checks that no attempt waited for the
// deadline: every fallback step was decided by an answer.
func (r result) requireWellUnderHandshakeTimeout(t *testing.T) {
	t.Helper()
	require.Less(t, r.took, r.handshake/2, "Connect took a large part of HandshakeTimeout (%s)", r.handshake)
}

// requireNoFirstFrame checks that name's attempts failed by waiting out
// the handshake deadline, the mark of a proxy that holds events back.
func (r result) requireNoFirstFrame(t *testing.T, name string) {
	t.Helper()
	as := r.failed[name]
	require.NotEmpty(t, as, "no failed %s attempt was logged", name)
	for _, a := range as {
		require.ErrorIs(t, a.err, fallback.ErrNoFirstFrame, "%s attempt", name)
	}
}

// attempt is one failed transport attempt.
type attempt struct {
	err  error
	took time.Duration
}

func (a attempt) String() string { return fmt.Sprintf("%v after %s", a.err, a.took) }

// failures groups the failed attempts of the client's last negotiation by
// transport.
func failures(as []fallback.Attempt) map[string][]attempt {
	out := make(map[string][]attempt)
	for _, a := range as {
		if a.Err != nil {
			out[a.Transport] = append(out[a.Transport], attempt{err: a.Err, took: a.Took})
		}
	}
	return out
}
