package negotiate_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/fallback"
	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/internal/negotiate"
	"github.com/realtimekit/realtime/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// fake dials per its err, or hangs until ctx ends when hang is set. Its
// conn answers connect with first, or with nothing when first is nil.
type fake struct {
	name  string
	err   error
	hang  bool
	mute  bool         // the conn never answers
	first *codec.Frame // the answer; nil: a hello
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
	if f.mute {
		return nopConn{}, nil
	}
	first := codec.Frame{Type: codec.TypeHello, Version: codec.Version, Session: "s", Token: "t", Heartbeat: 1000}
	if f.first != nil {
		first = *f.first
	}
	msg, err := codec.JSON{}.Encode(nil, first)
	if err != nil {
		return nil, err
	}
	return answerConn{msg}, nil
}

type nopConn struct{}

func (nopConn) Send(context.Context, []byte) error       { return nil }
func (nopConn) Recv(ctx context.Context) ([]byte, error) { <-ctx.Done(); return nil, net.ErrClosed }
func (nopConn) Close() error                             { return nil }

type answerConn struct{ msg []byte }

func (answerConn) Send(context.Context, []byte) error     { return nil }
func (c answerConn) Recv(context.Context) ([]byte, error) { return c.msg, nil }
func (answerConn) Close() error                           { return nil }

var connect = codec.Frame{Type: codec.TypeConnect, Version: codec.Version}

func dial(ctx context.Context, n *negotiate.Negotiator) (negotiate.Link, []fallback.Attempt, error) {
	return n.Dial(ctx, "http://x", transport.Config{}, codec.JSON{}, connect)
}

func TestRefusalMovesOnAndWinnerIsRemembered(t *testing.T) {
	ws := &fake{name: "websocket", err: &transport.HandshakeError{Transport: "websocket", StatusCode: 426}}
	sse := &fake{name: "sse"}
	n := &negotiate.Negotiator{Transports: []transport.Transport{ws, sse}}
	l, attempts, err := dial(context.Background(), n)
	require.NoError(t, err)
	require.Equal(t, "sse", l.Transport)
	require.Equal(t, codec.TypeHello, l.Frames[0].Type)
	require.Len(t, attempts, 2)
	require.Error(t, attempts[0].Err)
	require.Equal(t, "sse", n.Remembered())
	require.Equal(t, []string{"sse", "websocket"}, names(n.Order()))
}

func TestUnauthorizedStopsWithoutFallback(t *testing.T) {
	ws := &fake{name: "websocket", err: &transport.HandshakeError{Transport: "websocket", StatusCode: 401}}
	sse := &fake{name: "sse"}
	n := &negotiate.Negotiator{Transports: []transport.Transport{ws, sse}}
	_, _, err := dial(context.Background(), n)
	require.True(t, negotiate.Unauthorized(err))
	require.Zero(t, sse.dials)
}

// A server that answers with an error frame speaks the protocol: the
// transport works, and the caller decides what the error means.
func TestErrorFrameEndsNegotiation(t *testing.T) {
	ws := &fake{name: "websocket", first: &codec.Frame{Type: codec.TypeError, Code: 4005, Reason: "version"}}
	sse := &fake{name: "sse"}
	n := &negotiate.Negotiator{Transports: []transport.Transport{ws, sse}}
	l, _, err := dial(context.Background(), n)
	require.NoError(t, err)
	require.Equal(t, codec.TypeError, l.Frames[0].Type)
	require.Zero(t, sse.dials)
}

// A first message that is not a hello means the path mangles that
// transport: the next one is tried.
func TestGarbledFirstMessageMovesOn(t *testing.T) {
	ws := &fake{name: "websocket", first: &codec.Frame{Type: codec.TypePing}}
	sse := &fake{name: "sse"}
	n := &negotiate.Negotiator{Transports: []transport.Transport{ws, sse}}
	l, attempts, err := dial(context.Background(), n)
	require.NoError(t, err)
	require.Equal(t, "sse", l.Transport)
	require.ErrorIs(t, attempts[0].Err, negotiate.ErrNoHello)
}

// A transport that never delivers the first frame is abandoned at the
// deadline, with an error that says so.
func TestNoFirstFrameWithinDeadline(t *testing.T) {
	ws, lp := &fake{name: "websocket", hang: true}, &fake{name: "longpoll"}
	n := &negotiate.Negotiator{Transports: []transport.Transport{ws, lp}, Deadline: 30 * time.Millisecond}
	start := time.Now()
	l, attempts, err := dial(context.Background(), n)
	require.NoError(t, err)
	require.Equal(t, "longpoll", l.Transport)
	require.ErrorIs(t, attempts[0].Err, fallback.ErrNoFirstFrame)
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)

	// The same through the handshake: the dial works, the frame never comes.
	sse := &fake{name: "sse", mute: true}
	n = &negotiate.Negotiator{Transports: []transport.Transport{sse}, Deadline: 30 * time.Millisecond}
	_, _, err = dial(context.Background(), n)
	var fe *fallback.Error
	require.ErrorAs(t, err, &fe)
	require.ErrorIs(t, err, fallback.ErrNoFirstFrame)
}

func TestParentContextEndsNegotiation(t *testing.T) {
	ws, sse := &fake{name: "websocket", hang: true}, &fake{name: "sse"}
	n := &negotiate.Negotiator{Transports: []transport.Transport{ws, sse}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, _, err := dial(ctx, n)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Zero(t, sse.dials, "a cancelled caller is not a failed transport")
}

func TestAllFailListsEveryAttempt(t *testing.T) {
	boom := errors.New("boom")
	a, b := &fake{name: "a", err: boom}, &fake{name: "b", err: boom}
	n := &negotiate.Negotiator{Transports: []transport.Transport{a, b}}
	_, _, err := dial(context.Background(), n)
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
