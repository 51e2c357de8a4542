package realtime_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/server"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild() // never returns
	}
	goleak.VerifyTestMain(m, leakcheck.Options()...)
}

// Two clients subscribe to one channel; each publishes 10,000 messages; each
// receives all 20,000 exactly once, in each sender's order, and the server
// recorded every publish once.
func TestTenThousandEachExactlyOnceInOrder(t *testing.T) {
	for _, cd := range []codec.Codec{codec.JSON{}, codec.CBOR{}} {
		t.Run(cd.Name(), func(t *testing.T) {
			const n = 10_000
			ctx := testCtx(t, 60*time.Second)
			srv := newServer(t, nil)
			recs := []*recorder{newRecorder(), newRecorder()}
			var clients []*realtime.Client
			for _, rec := range recs {
				c := connect(t, ctx, srv, &realtime.Options{Codec: cd}, rec)
				require.NoError(t, subscribed(c.Subscribe(ctx, "chat", rec.handle)))
				clients = append(clients, c)
			}
			errs := make(chan error, len(clients))
			for i, c := range clients {
				go func() {
					var last *realtime.Receipt
					for k := range n {
						r, err := c.PublishAsync("chat", fmt.Appendf(nil, "%d:%d", i, k))
						for errors.Is(err, realtime.ErrOutboxFull) { // far faster than the wire: wait for room
							if werr := last.Wait(ctx); werr != nil {
								errs <- werr
								return
							}
							r, err = c.PublishAsync("chat", fmt.Appendf(nil, "%d:%d", i, k))
						}
						if err != nil {
							errs <- err
							return
						}
						last = r
					}
					errs <- last.Wait(ctx)
				}()
			}
			for range clients {
				require.NoError(t, <-errs)
			}
			for _, rec := range recs {
				msgs := rec.waitMsgs(t, ctx, 2*n)
				require.Len(t, msgs, 2*n, "no extra deliveries")
				next := [2]int{}
				for _, m := range msgs {
					var who, k int
					_, err := fmt.Sscanf(string(m.Data), "%d:%d", &who, &k)
					require.NoError(t, err)
					require.Equal(t, next[who], k, "sender %d out of order or duplicated", who)
					next[who]++
				}
			}
			require.Len(t, srv.Received(), 2*n, "the server saw each publish once")
		})
	}
}

func TestNackReturnsServersReasonAsTypedError(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, nil)
	srv.Nack(func(m mock.Message) (uint16, string) {
		if m.Channel == "secret" {
			return 4003, "not allowed on secret"
		}
		return 0, ""
	})
	c := connect(t, ctx, srv, nil, nil)
	err := c.Publish(ctx, "secret", []byte("x"))
	var re *realtime.RefusedError
	require.ErrorAs(t, err, &re)
	require.Equal(t, uint16(4003), re.Code)
	require.Equal(t, "not allowed on secret", re.Reason)
	require.False(t, re.Temporary())
	require.ErrorIs(t, err, realtime.ErrRefused)
	require.NoError(t, c.Publish(ctx, "public", []byte("y")), "a refusal affects that message only")
	require.Len(t, srv.Received(), 1)
}

func TestCloseIsFinalAndSecondCloseSaysSo(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, nil)
	rec := newRecorder()
	c, err := realtime.New(srv.URL(), &realtime.Options{OnStateChange: rec.change})
	require.NoError(t, err)
	require.Equal(t, realtime.StateIdle, c.State())
	require.NoError(t, c.Connect(ctx))
	require.Equal(t, "websocket", c.Transport())
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Close(), realtime.ErrClosed)
	require.Equal(t, realtime.StateClosed, c.State())
	require.ErrorIs(t, c.Publish(ctx, "a", nil), realtime.ErrClosed)
	require.ErrorIs(t, c.Connect(ctx), realtime.ErrClosed)
	require.NoError(t, srv.WaitFor(ctx, func() bool { return srv.Sessions() == 0 }), "close frame ends the session")
	last := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.To == realtime.StateClosed })
	require.Equal(t, realtime.StateConnected, last.From)
}

// Close right after Connect returns must still announce every change that
// happened, in order, exactly once: the change that woke Connect used to be
// queued after its state was set, so a quick Close could drain the
// dispatcher in between and the "connected" event was never delivered.
func TestCloseRightAfterConnectAnnouncesEveryChange(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	srv := newServer(t, nil)
	want := []string{"idle->connecting", "connecting->connected", "connected->closed"}
	for i := range 200 {
		var got []string // written by the dispatcher, then by Close; read after Close
		c, err := realtime.New(srv.URL(), &realtime.Options{
			OnStateChange: func(ch realtime.StateChange) {
				got = append(got, ch.From.String()+"->"+ch.To.String())
			},
		})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		require.NoError(t, c.Close())
		require.Equal(t, want, got, "round %d", i)
	}
}

func TestCloseWithoutConnect(t *testing.T) {
	c, err := realtime.New("http://127.0.0.1:1", nil)
	require.NoError(t, err)
	require.NoError(t, c.Close())
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"ftp://x", "::", "127.0.0.1:80"} {
		_, err := realtime.New(u, nil)
		require.Error(t, err, u)
	}
}

func TestPublishBeforeConnectWaitsInOutbox(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, nil)
	c, err := realtime.New(srv.URL(), nil)
	require.NoError(t, err)
	defer c.Close()
	r, err := c.PublishAsync("a", []byte("early"))
	require.NoError(t, err)
	require.Equal(t, realtime.ReceiptQueued, r.Status())
	require.NoError(t, c.Connect(ctx))
	require.NoError(t, r.Wait(ctx))
	require.Equal(t, realtime.ReceiptAcknowledged, r.Status())
	got, err := srv.WaitReceived(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "early", string(got[0].Data))
}

func TestOutboxBoundsAndTooLarge(t *testing.T) {
	c, err := realtime.New("http://127.0.0.1:1", &realtime.Options{OutboxCount: 3, MaxMessageSize: 4096})
	require.NoError(t, err)
	defer c.Close()
	for range 3 {
		_, err := c.PublishAsync("a", []byte("x"))
		require.NoError(t, err)
	}
	_, err = c.PublishAsync("a", []byte("x"))
	require.ErrorIs(t, err, realtime.ErrOutboxFull)
	_, err = c.PublishAsync("a", make([]byte, 5000))
	require.ErrorIs(t, err, realtime.ErrMessageTooLarge)
	_, err = c.PublishAsync("", nil)
	require.Error(t, err, "empty channel name")
	_, err = c.PublishAsync("bad\nname", nil)
	require.Error(t, err, "control character")
}

func TestPublishCtxEndWithdrawsUnsentMessage(t *testing.T) {
	c, err := realtime.New("http://127.0.0.1:1", &realtime.Options{OutboxCount: 1})
	require.NoError(t, err)
	defer c.Close()
	ctx := testCtx(t, 20*time.Millisecond)
	require.ErrorIs(t, c.Publish(ctx, "a", []byte("x")), ctx.Err())
	_, err = c.PublishAsync("a", []byte("y"))
	require.NoError(t, err, "the withdrawn message freed its room")
}

func TestUnauthorizedFailsWithoutRetryStorm(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	var calls atomic.Int32
	srv := newServer(t, &mock.Options{Server: server.Config{Authenticate: func(r *http.Request) (server.Identity, error) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer good" {
			return server.Identity{}, errors.New("bad token")
		}
		return server.Identity{}, nil
	}}})
	rec := newRecorder()
	c, err := realtime.New(srv.URL(), &realtime.Options{
		Header:        http.Header{"Authorization": {"Bearer bad"}},
		OnStateChange: rec.change,
	})
	require.NoError(t, err)
	defer c.Close()
	err = c.Connect(ctx)
	require.ErrorIs(t, err, realtime.ErrUnauthorized)
	require.Equal(t, realtime.StateFailed, c.State())
	require.Equal(t, int32(1), calls.Load(), "one attempt, no fallback, no retry")
	ch := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.To == realtime.StateFailed })
	require.ErrorIs(t, ch.Err, realtime.ErrUnauthorized)

	ok, err := realtime.New(srv.URL(), &realtime.Options{Header: http.Header{"Authorization": {"Bearer good"}}})
	require.NoError(t, err)
	defer ok.Close()
	require.NoError(t, ok.Connect(ctx))
}

func TestConnectCtxEndsWhileServerDown(t *testing.T) {
	c, err := realtime.New("http://127.0.0.1:1", &realtime.Options{})
	require.NoError(t, err)
	defer c.Close()
	ctx := testCtx(t, 300*time.Millisecond)
	err = c.Connect(ctx)
	require.ErrorIs(t, err, ctx.Err())
	require.NotNil(t, c.Err(), "the last attempt's error is kept")
	require.Contains(t, []realtime.State{realtime.StateConnecting}, c.State())
}

// A drop mid-stream: the session resumes and nothing is lost or doubled.
func TestDropConnectionsResumesWithoutLoss(t *testing.T) {
	const n = 3000
	ctx := testCtx(t, 30*time.Second)
	srv := newServer(t, nil)
	rec := newRecorder()
	c := connect(t, ctx, srv, nil, rec)
	require.NoError(t, subscribed(c.Subscribe(ctx, "a", rec.handle)))
	var last *realtime.Receipt
	for k := range n {
		if k%1000 == 500 {
			srv.DropConnections()
		}
		r, err := c.PublishAsync("a", fmt.Appendf(nil, "%d", k))
		require.NoError(t, err)
		last = r
	}
	require.NoError(t, last.Wait(ctx))
	msgs := rec.waitMsgs(t, ctx, n)
	require.Len(t, msgs, n)
	for k, m := range msgs {
		require.Equal(t, fmt.Sprint(k), string(m.Data))
	}
	require.Len(t, srv.Received(), n)
	resumed := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool {
		return ch.From == realtime.StateReconnecting && ch.To == realtime.StateConnected
	})
	require.False(t, resumed.ContinuityLost)
}

func TestExpiredSessionReportsContinuityLostAndResubscribes(t *testing.T) {
	ctx := testCtx(t, 15*time.Second)
	srv := newServer(t, nil)
	rec := newRecorder()
	c := connect(t, ctx, srv, nil, rec)
	require.NoError(t, subscribed(c.Subscribe(ctx, "news", rec.handle)))
	srv.ExpireSessions()
	srv.DropConnections()
	lost := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.ContinuityLost })
	require.Equal(t, realtime.StateConnected, lost.To)
	require.Equal(t, "session not resumed", lost.Reason)
	// The renewal is queued ahead of anything else, so the server processes
	// it before this publish: the client gets its own message back.
	require.NoError(t, c.Publish(ctx, "news", []byte("after")))
	require.Equal(t, "after", string(rec.waitMsgs(t, ctx, 1)[0].Data))
}

// More publishes than the in-flight window: the acks that open the window
// must wake the sender, or the rest wait for the next heartbeat.
func TestPipelinedPublishesBeyondTheWindowDoNotStall(t *testing.T) {
	ctx := testCtx(t, 3*time.Second) // the mock's heartbeat is 15 s
	srv := newServer(t, nil)
	c := connect(t, ctx, srv, nil, nil)
	var last *realtime.Receipt
	for range 3000 {
		r, err := c.PublishAsync("a", []byte("x"))
		require.NoError(t, err)
		last = r
	}
	require.NoError(t, last.Wait(ctx))
}
