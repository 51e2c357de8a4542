package realtime_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/transport"
)

// Bad input from the server ends the connection with a typed error, never a
// panic or a hang; the client reconnects, resumes and carries on.
func TestBadInputFromServer(t *testing.T) {
	msg := func(seq uint64) codec.Frame {
		return codec.Frame{Type: codec.TypeMessage, Seq: seq, Channel: "a", Data: []byte("lie")}
	}
	cases := []struct {
		name   string
		codec  codec.Codec
		limit  int
		inject func(*mock.Server)
		want   error // matched with errors.Is
	}{
		{name: "truncated frame", inject: raw(`{"t":"msg","s":3,"c":"a","d":"x`), want: codec.ErrMalformed},
		{name: "unknown frame type", inject: raw(`{"t":"teleport","s":3}`), want: codec.ErrUnknownType},
		{name: "invalid JSON", inject: raw(`hello, world`), want: codec.ErrMalformed},
		{name: "invalid CBOR", codec: codec.CBOR{}, inject: rawBytes([]byte{0xff, 0x00, 0x13}), want: codec.ErrMalformed},
		{name: "truncated CBOR", codec: codec.CBOR{}, inject: rawBytes([]byte{0xa2, 0x61, 0x74}), want: codec.ErrMalformed},
		{name: "over the size limit", limit: 4096, inject: rawBytes(bytes.Repeat([]byte("x"), 10_000)), want: transport.ErrTooLarge},
		{name: "more frames than a batch may hold", inject: raw("[" + strings.Repeat(`{"t":"ping"},`, codec.MaxBatchFrames) + `{"t":"ping"}]`), want: codec.ErrMalformed},
		{name: "sequence going backwards", inject: frames(msg(2)), want: realtime.ErrProtocol},
		{name: "sequence gap", inject: frames(msg(1000)), want: realtime.ErrProtocol},
		{name: "ack of what was never sent", inject: frames(codec.Frame{Type: codec.TypeAck, Ack: 1 << 40}), want: realtime.ErrProtocol},
		{name: "client-only frame from the server", inject: frames(codec.Frame{Type: codec.TypePublish, Seq: 3, Channel: "a"}), want: realtime.ErrProtocol},
		{name: "hello mid-session", inject: frames(codec.Frame{Type: codec.TypeHello, Session: "x", Heartbeat: 1000}), want: realtime.ErrProtocol},
	}
	for _, tr := range realtime.DefaultTransports() {
		for _, tc := range cases {
			t.Run(tr.Name()+"/"+tc.name, func(t *testing.T) {
				badInput(t, tr, tc.codec, tc.limit, tc.inject, tc.want)
			})
		}
	}
}

func badInput(t *testing.T, tr transport.Transport, cd codec.Codec, limit int, inject func(*mock.Server), want error) {
	ctx := testCtx(t, 15*time.Second)
	srv := newServer(t, nil)
	rec := newRecorder()
	opts := &realtime.Options{Codec: cd, MaxMessageSize: limit, Transports: []transport.Transport{tr}}
	c := connect(t, ctx, srv, opts, rec)
	require.NoError(t, subscribed(c.Subscribe(ctx, "a", rec.handle)))
	// Two genuine messages, so the connection has seen sequence numbers 1 and 2.
	require.NoError(t, srv.Publish(ctx, "a", []byte("one")))
	require.NoError(t, srv.Publish(ctx, "a", []byte("two")))
	rec.waitMsgs(t, ctx, 2)

	inject(srv)
	ch := rec.waitChange(t, ctx, func(ch realtime.StateChange) bool { return ch.To == realtime.StateReconnecting })
	require.ErrorIs(t, ch.Err, want)
	var pe *realtime.ProtocolError
	require.True(t, errors.As(ch.Err, &pe), "want a *ProtocolError, got %T: %v", ch.Err, ch.Err)
	require.ErrorIs(t, ch.Err, realtime.ErrProtocol)

	_, err := c.WaitForState(ctx, realtime.StateConnected)
	require.NoError(t, err)
	require.NoError(t, c.Publish(ctx, "a", []byte("three")), "the client recovers")
	msgs := rec.waitMsgs(t, ctx, 3)
	require.Equal(t, []string{"one", "two", "three"}, datas(msgs), "nothing injected reached the handler")
}

// A permanent error frame ends the client in Failed with the server's code.
func TestPermanentServerErrorFails(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, nil)
	rec := newRecorder()
	c := connect(t, ctx, srv, nil, rec)
	srv.InjectFrames(codec.Frame{Type: codec.TypeError, Code: 4005, Reason: "version gone"})
	s, err := c.WaitForState(ctx, realtime.StateFailed)
	require.NoError(t, err)
	require.Equal(t, realtime.StateFailed, s)
	var se *realtime.ServerError
	require.ErrorAs(t, c.Err(), &se)
	require.Equal(t, uint16(4005), se.Code)
	require.True(t, se.Permanent())
	require.Error(t, c.Publish(ctx, "a", nil), "a failed client takes no more work")
}

func raw(s string) func(*mock.Server)      { return rawBytes([]byte(s)) }
func rawBytes(b []byte) func(*mock.Server) { return func(s *mock.Server) { s.Inject(b) } }
func frames(f ...codec.Frame) func(*mock.Server) {
	return func(s *mock.Server) { s.InjectFrames(f...) }
}

func datas(ms []realtime.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Data)
	}
	return out
}
