package natsbroker

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime/server"
)

func readAnswer(t *testing.T, b []byte) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func TestRelayForward(t *testing.T) {
	s := startServer(t)
	a := newCluster(t, s.ClientURL(), Options{})
	b := newCluster(t, s.ClientURL(), Options{})
	ctx := testCtx(t)

	_, err := a.Relay().Forward(ctx, "node-b", []byte("GET / HTTP/1.1\r\n\r\n"))
	require.ErrorIs(t, err, server.ErrNodeGone, "nobody serves node-b yet")

	stop, err := b.Relay().Serve("node-b", func(_ context.Context, req []byte) []byte {
		return append([]byte("echo:"), req...)
	})
	require.NoError(t, err)
	// A node name is any string: it is encoded in the subject.
	stopOdd, err := b.Relay().Serve("odd.*>", func(context.Context, []byte) []byte { return []byte("odd") })
	require.NoError(t, err)

	ans, err := a.Relay().Forward(ctx, "node-b", []byte("ping"))
	require.NoError(t, err)
	require.Equal(t, "echo:ping", string(ans))
	ans, err = a.Relay().Forward(ctx, "odd.*>", nil)
	require.NoError(t, err)
	require.Equal(t, "odd", string(ans))

	stop()
	stop() // idempotent
	stopOdd()
	_, err = a.Relay().Forward(ctx, "node-b", []byte("ping"))
	require.ErrorIs(t, err, server.ErrNodeGone, "after stop")

	big := make([]byte, a.nc.MaxPayload())
	_, err = a.Relay().Forward(ctx, "node-b", big)
	require.ErrorIs(t, err, ErrTooLarge)
	require.NotContains(t, err.Error(), "node-b")
}

func TestRelayBounded(t *testing.T) {
	s := startServer(t)
	a := newCluster(t, s.ClientURL(), Options{})
	b := newCluster(t, s.ClientURL(), Options{maxRelay: 2})
	ctx := testCtx(t)

	held := make(chan struct{}, 2)
	release := make(chan struct{})
	var running atomic.Int32
	stop, err := b.Relay().Serve("n", func(hctx context.Context, req []byte) []byte {
		running.Add(1)
		defer running.Add(-1)
		held <- struct{}{}
		select {
		case <-release:
		case <-hctx.Done():
		}
		return []byte("HTTP/1.1 204 No Content\r\n\r\n")
	})
	require.NoError(t, err)

	type result struct {
		ans []byte
		err error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			ans, err := a.Relay().Forward(ctx, "n", []byte("poll"))
			results <- result{ans, err}
		}()
	}
	<-held
	<-held
	// Both slots are taken: the third request is answered 503 at once.
	ans, err := a.Relay().Forward(ctx, "n", []byte("poll"))
	require.NoError(t, err)
	resp := readAnswer(t, ans)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))

	close(release)
	for range 2 {
		r := <-results
		require.NoError(t, r.err)
		require.Equal(t, http.StatusNoContent, readAnswer(t, r.ans).StatusCode)
	}

	// stop cancels the handles' context and waits for them.
	release = make(chan struct{})
	forwarded := make(chan error, 1)
	go func() {
		_, err := a.Relay().Forward(ctx, "n", []byte("poll"))
		forwarded <- err
	}()
	<-held
	stop()
	require.Zero(t, running.Load(), "a handle still runs after stop")
	require.NoError(t, <-forwarded, "the held request is answered")
}
