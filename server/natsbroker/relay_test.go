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

func TestRelayForward(t *testing.T) {
	s := startServer(t)
	a := newCluster(t, s.ClientURL(), Options{})
	b := newCluster(t, s.ClientURL(), Options{})
	ctx := testCtx(t)
	stop, err := b.Relay().Serve("node.b*", func(_ context.Context, req []byte) []byte {
		return append([]byte("answer to "), req...)
	})
	require.NoError(t, err)
	ans, err := a.Relay().Forward(ctx, "node.b*", []byte("GET / HTTP/1.1\r\n\r\n"))
	require.NoError(t, err)
	require.Equal(t, "answer to GET / HTTP/1.1\r\n\r\n", string(ans))

	_, err = a.Relay().Forward(ctx, "node.c", []byte("x"))
	require.ErrorIs(t, err, server.ErrNodeGone)
	stop()
	_, err = a.Relay().Forward(ctx, "node.b*", []byte("x"))
	require.ErrorIs(t, err, server.ErrNodeGone, "after stop")
	stop() // a second stop is harmless

	big := make([]byte, a.nc.MaxPayload())
	_, err = a.Relay().Forward(ctx, "node.b*", big)
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestRelayBounded(t *testing.T) {
	s := startServer(t)
	const limit = 4
	a := newCluster(t, s.ClientURL(), Options{})
	b := newCluster(t, s.ClientURL(), Options{maxRelay: limit})
	ctx := testCtx(t)
	var running, most atomic.Int32
	release := make(chan struct{})
	stopped := make(chan struct{})
	stop, err := b.Relay().Serve("b", func(hctx context.Context, req []byte) []byte {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		select {
		case <-release:
		case <-hctx.Done(): // stop ends held requests
			return []byte("stopped")
		}
		return []byte("ok")
	})
	require.NoError(t, err)
	held := make(chan []byte, limit)
	for range limit {
		go func() {
			ans, err := a.Relay().Forward(ctx, "b", []byte("poll"))
			if err != nil {
				ans = []byte(err.Error())
			}
			held <- ans
		}()
	}
	waitFor(t, "the held requests", func() bool { return running.Load() == limit })
	ans, err := a.Relay().Forward(ctx, "b", []byte("one more"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(ans)), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.NoError(t, resp.Body.Close())

	close(release)
	for range limit {
		require.Equal(t, "ok", string(<-held))
	}
	require.Equal(t, int32(limit), most.Load())

	// stop waits for a handle in progress, whose ctx it ends.
	release2 := make(chan struct{})
	stop2, err := b.Relay().Serve("c", func(hctx context.Context, _ []byte) []byte {
		close(release2)
		<-hctx.Done()
		return nil
	})
	require.NoError(t, err)
	go func() { _, _ = a.Relay().Forward(ctx, "c", []byte("x")) }()
	<-release2
	stop2()
	close(stopped)
	stop()
}
