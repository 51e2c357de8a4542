package fallback_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/fallback"
	"github.com/realtimekit/realtime/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake dials per its err, or hangs until ctx ends when hang is set.
type fake struct {
	name  string
	err   error
	hang  bool
	dials int
}

func (f *fake) Name() string { return f.name }

func (f *fake) Dial(ctx context.Context, _ string, _ transport.Config) (transport.Conn, error) {
	f.dials++
	if f.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	return nopConn{}, nil
}

type nopConn struct{}

func (nopConn) Send(context.Context, []byte) error       { return nil }
func (nopConn) Recv(ctx context.Context) ([]byte, error) { <-ctx.Done(); return nil, net.ErrClosed }
func (nopConn) Close() error                             { return nil }

func ok(context.Context, transport.Conn) (string, error) { return "hello", nil }

func TestRefusalMovesOnAndWinnerIsRemembered(t *testing.T) {
	ws := &fake{name: "websocket", err: &transport.HandshakeError{Transport: "websocket", StatusCode: 426}}
	sse := &fake{name: "sse"}
	n := &fallback.Negotiator{Transports: []transport.Transport{ws, sse}}
	_, name, res, attempts, err := fallback.Dial(context.Background(), n, "http://x", transport.Config{}, ok)
	require.NoError(t, err)
	require.Equal(t, "sse", name)
	require.Equal(t, "hello", res)
	require.Len(t, attempts, 2)
	require.Error(t, attempts[0].Err)
	require.Equal(t, "sse", n.Remembered())
	require.Equal(t, []string{"sse", "websocket"}, names(n.Order()))
}

func TestUnauthorizedStopsWithoutFallback(t *testing.T) {
	ws := &fake{name: "websocket", err: &transport.HandshakeError{Transport: "websocket", StatusCode: 401}}
	sse := &fake{name: "sse"}
	n := &fallback.Negotiator{Transports: []transport.Transport{ws, sse}}
	_, _, _, _, err := fallback.Dial(context.Background(), n, "http://x", transport.Config{}, ok)
	require.True(t, fallback.Unauthorized(err))
	require.Zero(t, sse.dials)
}

type permErr struct{}

func (permErr) Error() string   { return "version not supported" }
func (permErr) Permanent() bool { return true }

func TestPermanentHandshakeErrorStops(t *testing.T) {
	ws, sse := &fake{name: "websocket"}, &fake{name: "sse"}
	n := &fallback.Negotiator{Transports: []transport.Transport{ws, sse}}
	_, _, _, _, err := fallback.Dial(context.Background(), n, "http://x", transport.Config{},
		func(context.Context, transport.Conn) (string, error) { return "", permErr{} })
	require.True(t, fallback.Permanent(err))
	require.Zero(t, sse.dials)
}

// A transport that never delivers the first frame is abandoned at the
// deadline, with an error that says so.
func TestNoFirstFrameWithinDeadline(t *testing.T) {
	ws, lp := &fake{name: "websocket", hang: true}, &fake{name: "longpoll"}
	n := &fallback.Negotiator{Transports: []transport.Transport{ws, lp}, Deadline: 30 * time.Millisecond}
	start := time.Now()
	_, name, _, attempts, err := fallback.Dial(context.Background(), n, "http://x", transport.Config{}, ok)
	require.NoError(t, err)
	require.Equal(t, "longpoll", name)
	require.ErrorIs(t, attempts[0].Err, fallback.ErrNoFirstFrame)
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)

	// The same through the handshake: the dial works, the frame never comes.
	sse := &fake{name: "sse"}
	n = &fallback.Negotiator{Transports: []transport.Transport{sse}, Deadline: 30 * time.Millisecond}
	_, _, _, _, err = fallback.Dial(context.Background(), n, "http://x", transport.Config{},
		func(ctx context.Context, c transport.Conn) (string, error) { _, err := c.Recv(ctx); return "", err })
	var fe *fallback.Error
	require.ErrorAs(t, err, &fe)
	require.ErrorIs(t, err, fallback.ErrNoFirstFrame)
}

func TestParentContextEndsNegotiation(t *testing.T) {
	ws, sse := &fake{name: "websocket", hang: true}, &fake{name: "sse"}
	n := &fallback.Negotiator{Transports: []transport.Transport{ws, sse}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, _, _, _, err := fallback.Dial(ctx, n, "http://x", transport.Config{}, ok)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Zero(t, sse.dials, "a cancelled caller is not a failed transport")
}

func TestAllFailListsEveryAttempt(t *testing.T) {
	boom := errors.New("boom")
	a, b := &fake{name: "a", err: boom}, &fake{name: "b", err: boom}
	n := &fallback.Negotiator{Transports: []transport.Transport{a, b}}
	_, _, _, _, err := fallback.Dial(context.Background(), n, "http://x", transport.Config{}, ok)
	var fe *fallback.Error
	require.ErrorAs(t, err, &fe)
	require.Equal(t, []string{"a", "b"}, []string{fe.Attempts[0].Transport, fe.Attempts[1].Transport})
	require.ErrorIs(t, err, boom)
	require.Contains(t, err.Error(), "a: boom; b: boom")
}

func names(ts []transport.Transport) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name())
	}
	return out
}
