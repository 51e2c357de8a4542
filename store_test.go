package realtime_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/store/filestore"
)

func openStore(t *testing.T, dir string) *filestore.Store {
	t.Helper()
	st, err := filestore.Open(dir, nil)
	require.NoError(t, err)
	return st
}

func setDown(srv *mock.Server, down bool) {
	code := 0
	if down {
		code = 503
	}
	for _, tr := range []string{"websocket", "sse", "longpoll"} {
		srv.RefuseTransport(tr, code)
	}
	if down {
		srv.DropConnections()
	}
}

// Publishes accepted while the server was down, by a process that then
// stopped, are sent by the next process on the store: each once, in order.
func TestStoredPublishesOutliveTheProcess(t *testing.T) {
	srv := newServer(t, nil)
	setDown(srv, true)
	dir := t.TempDir()
	st := openStore(t, dir)
	c, err := realtime.New(srv.URL(), &realtime.Options{Store: st})
	require.NoError(t, err)
	for i := range 99 {
		_, err := c.PublishAsync("readings", fmt.Appendf(nil, "r%03d", i))
		require.NoError(t, err)
	}
	_, err = c.PublishMessageAsync(realtime.Message{Channel: "readings", Data: []byte("r099"), Header: map[string]string{"traceparent": "00-abc-def-01"}})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, st.Close())

	setDown(srv, false)
	st = openStore(t, dir)
	defer st.Close()
	c = connect(t, testCtx(t, 20*time.Second), srv, &realtime.Options{Store: st}, nil)
	require.Equal(t, 100, c.Stats().Restored)
	got, err := srv.WaitReceived(testCtx(t, 20*time.Second), 100)
	require.NoError(t, err)
	for i, m := range got {
		require.Equal(t, fmt.Sprintf("r%03d", i), string(m.Data))
	}
	require.Equal(t, map[string]string{"traceparent": "00-abc-def-01"}, got[99].Header, "headers are stored too")
	require.Eventually(t, func() bool { return c.Stats().OutboxCount == 0 }, scaled(10*time.Second), 5*time.Millisecond)
	require.Len(t, srv.Received(), 100)
}

// A process that stops in the middle of a stream leaves its session to the
// next one on the store: the server resumes it and replays exactly what
// the last process had not processed, to the handler the new process
// subscribes after Connect.
func TestStoredSessionResumesInTheNextProcess(t *testing.T) {
	srv := newServer(t, nil)
	dir := t.TempDir()
	ctx := testCtx(t, 30*time.Second)

	msgs := newRecorder()
	handler := msgs.handle

	st := openStore(t, dir)
	c := connect(t, ctx, srv, &realtime.Options{Store: st}, nil)
	require.NoError(t, subscribed(c.Subscribe(ctx, "ch", handler)))
	for i := range 5 {
		require.NoError(t, srv.Publish(ctx, "ch", fmt.Appendf(nil, "m%d", i)))
	}
	msgs.waitMsgs(t, ctx, 5)
	require.NoError(t, c.Close())
	require.NoError(t, st.Close())
	require.Equal(t, 1, srv.Sessions(), "Close on a store leaves the session on the server")
	for i := 5; i < 10; i++ {
		require.NoError(t, srv.Publish(ctx, "ch", fmt.Appendf(nil, "m%d", i)))
	}

	st = openStore(t, dir)
	defer st.Close()
	rec := newRecorder()
	c = connect(t, ctx, srv, &realtime.Options{Store: st}, rec)
	require.NoError(t, subscribed(c.Subscribe(ctx, "ch", handler)))
	var got []string
	for i, m := range msgs.waitMsgs(t, ctx, 10) {
		got = append(got, string(m.Data))
		// The first after the restart may have been handled (the process
		// could have died between its handler and its record): only it.
		require.Equal(t, i == 5, m.Redelivered, "message %d", i)
	}
	require.Equal(t, []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"}, got)
	require.Equal(t, "session resumed", rec.snapshotChanges()[1].Reason)
	require.Zero(t, c.Stats().ContinuityLost)
}

// A store that cannot be opened is a typed error with a way out; a damaged
// one opens, and the Client says what was cut.
func TestStoreErrorsAreTyped(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "s")
	require.NoError(t, os.WriteFile(dir, []byte("x"), 0o600))
	_, err := filestore.Open(dir, nil)
	var oe *filestore.OpenError
	require.ErrorAs(t, err, &oe)
	_, err = filestore.MoveAside(dir)
	require.NoError(t, err)

	st := openStore(t, dir)
	c, err := realtime.New("http://127.0.0.1:1", &realtime.Options{Store: st})
	require.NoError(t, err)
	_, err = c.PublishAsync("ch", []byte("kept"))
	require.NoError(t, err)
	c.Close()
	require.NoError(t, st.Close())
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NotEmpty(t, segs)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte{0xA5, 1, 2, 3}) // a torn record
	require.NoError(t, err)
	f.Close()

	st = openStore(t, dir)
	c, err = realtime.New("http://127.0.0.1:1", &realtime.Options{Store: st})
	require.NoError(t, err)
	s := c.Stats()
	require.Equal(t, 1, s.Restored)
	require.Equal(t, 1, s.StoreDamage.Records)
	require.EqualValues(t, 4, s.StoreDamage.Bytes)
	c.Close()

	// A second Client on one Store is refused by New.
	_, err = realtime.New("http://127.0.0.1:1", &realtime.Options{Store: st})
	var se *realtime.StoreError
	require.ErrorAs(t, err, &se)
	require.NoError(t, st.Close())
	require.False(t, errors.Is(err, filestore.ErrClosed))
}
