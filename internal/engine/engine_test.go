package engine_test

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/connstate"
	"github.com/realtimekit/realtime/internal/engine"
	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/internal/session"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// recorder is a consumer of the engine's queue standing in for the
// façade's dispatcher.
type recorder struct {
	e       *engine.Engine
	mu      sync.Mutex
	msgs    []engine.Message
	changes []connstate.Change
}

func (r *recorder) consume(it engine.Item) {
	r.mu.Lock()
	if it.Change != nil {
		r.changes = append(r.changes, *it.Change)
	} else {
		r.msgs = append(r.msgs, it.Msg)
	}
	r.mu.Unlock()
	if it.Change == nil {
		r.e.Processed(it.Msg.Epoch, it.Msg.Seq, true)
	}
}

func newEngine(srv *memServer, p reconnect.Policy) (*engine.Engine, *recorder) {
	r := &recorder{}
	r.e, _ = engine.New(engine.Config{
		URL: "mem://", Codec: codec.JSON{}, MaxMessageSize: 1 << 20,
		Transports: []transport.Transport{srv}, HandshakeTimeout: time.Second, UpgradeInterval: -1,
		Reconnect: p.WithDefaults(), OutboxCount: 100, OutboxBytes: 1 << 20,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Consume: r.consume, Changes: true,
	})
	return r.e, r
}

// The engine alone, over an in-memory transport: it connects, a publish
// is acknowledged, a pushed message reaches the queue's consumer and is
// acknowledged once consumed.
func TestEngineRoundTripInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &memServer{name: "mem", hb: 1000}
		e, r := newEngine(srv, reconnect.Policy{})
		require.True(t, e.Start())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := e.State().WaitFor(ctx, reconnect.Connected)
		require.NoError(t, err)
		require.Equal(t, reconnect.Connected, st)

		op := session.NewOp(codec.Frame{Type: codec.TypePublish, Channel: "ch", Data: []byte("up")})
		require.NoError(t, e.Enqueue(op))
		require.NoError(t, op.Wait(ctx))

		require.NoError(t, srv.push("ch", "down"))
		time.Sleep(100 * time.Millisecond) // past the ack delay, in fake time
		synctest.Wait()
		r.mu.Lock()
		require.Len(t, r.msgs, 1)
		require.Equal(t, "down", string(r.msgs[0].Data))
		r.mu.Unlock()
		got, acks := srv.snapshot()
		require.Len(t, got, 1)
		require.Equal(t, "up", string(got[0].Data))
		require.Equal(t, uint64(1), acks, "the consumed message was acknowledged")

		_, ch, ok, closed := e.Close()
		require.True(t, closed && ok)
		require.Equal(t, reconnect.Closed, ch.To)
		srv.wg.Wait()
	})
}

// Against a server that cuts every link right after hello, the engine
// counts each as a failed attempt, grows its backoff, reaches Suspended
// once the budget is spent, and never exceeds the connects ceiling: ten
// minutes in fake time.
func TestEngineYoungLinksAndCeilingInFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &memServer{name: "mem", hb: 1000, closeAfterHello: true}
		e, r := newEngine(srv, reconnect.Policy{BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, Budget: 5 * time.Second})
		start := time.Now()
		require.True(t, e.Start())
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		took := time.Since(start)
		dials := srv.dials.Load()
		ceiling := int64(engine.ConnectBurst) + int64(took/engine.ConnectEvery) + 1
		require.LessOrEqual(t, dials, ceiling, "connects in %v", took)
		require.LessOrEqual(t, dials*int64(time.Minute)/int64(took), int64(engine.MaxConnectsPerMinute))
		st := e.Stats()
		require.Equal(t, reconnect.Suspended, st.State)
		require.Greater(t, st.DiedYoung, uint64(100))
		r.mu.Lock()
		var attempts []int
		for _, ch := range r.changes {
			if ch.Reason == "connection lost soon after connecting" {
				attempts = append(attempts, ch.Attempt)
			}
		}
		r.mu.Unlock()
		require.Greater(t, len(attempts), 100)
		for i := 1; i < len(attempts); i++ {
			require.Greater(t, attempts[i], attempts[i-1], "each young link is one more attempt of the same outage")
		}
		e.Close()
		srv.wg.Wait()
	})
}

// A handshake runs deep (net/http, TLS, the codec) and the connection loop
// parks for the life of a link deep enough that the runtime never shrinks
// a stack grown on it: every dial runs on a goroutine of its own, which
// ends with it, so an idle client's loop keeps a small stack.
func TestEngineDialsOffTheConnectionLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var onLoop []bool
		srv := &memServer{name: "mem", hb: 1000}
		srv.onDial = func() {
			buf := make([]byte, 64<<10)
			stack := string(buf[:runtime.Stack(buf, false)])
			onLoop = append(onLoop, strings.Contains(stack, "engine.(*Engine).run("))
		}
		e, _ := newEngine(srv, reconnect.Policy{})
		require.True(t, e.Start())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := e.State().WaitFor(ctx, reconnect.Connected)
		require.NoError(t, err)
		e.Close()
		srv.wg.Wait()
		require.Equal(t, []bool{false}, onLoop, "the dial ran on the connection loop")
	})
}
