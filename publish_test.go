package realtime_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// userFromHeader names a connection by its X-User header.
func userFromHeader(r *http.Request) (server.Identity, error) {
	return server.Identity{ID: r.Header.Get("X-User")}, nil
}

// A header set on publish reaches the subscriber's Message on every
// transport and codec, with the publisher's identity and a server time
// within the publish; the header is the client's copy, so the caller may
// change its map at once.
func TestPublishMessageMetadata(t *testing.T) {
	srv := newServer(t, &mock.Options{Server: server.Config{Authenticate: userFromHeader}})
	for _, tr := range realtime.DefaultTransports() {
		for _, cd := range []codec.Codec{codec.JSON{}, codec.CBOR{}} {
			t.Run(tr.Name()+"/"+cd.Name(), func(t *testing.T) {
				ctx := testCtx(t, 15*time.Second)
				opts := func(user string) *realtime.Options {
					return &realtime.Options{
						Transports: []transport.Transport{tr}, Codec: cd, UpgradeInterval: -1,
						Header: http.Header{"X-User": {user}},
					}
				}
				rec := newRecorder()
				sub := connect(t, ctx, srv, opts("ann"), nil)
				ch := "meta/" + tr.Name() + "/" + cd.Name()
				require.NoError(t, subscribed(sub.Subscribe(ctx, ch, rec.handle)))
				pub := connect(t, ctx, srv, opts("bob"), nil)

				h := map[string]string{"traceparent": traceparent, "tenant": "ü"}
				before := time.Now().Truncate(time.Millisecond)
				r, err := pub.PublishMessageAsync(realtime.Message{Channel: ch, Data: []byte("hi"), Header: h})
				require.NoError(t, err)
				h["tenant"] = "changed after the call"
				require.NoError(t, r.Wait(ctx))
				require.NoError(t, pub.Publish(ctx, ch, []byte("plain")))
				after := time.Now()

				msgs := rec.waitMsgs(t, ctx, 2)
				m := msgs[0]
				require.Equal(t, "hi", string(m.Data))
				require.Equal(t, map[string]string{"traceparent": traceparent, "tenant": "ü"}, m.Header)
				require.Equal(t, "bob", m.From)
				require.False(t, m.Time.Before(before) || m.Time.After(after), "time %v not within [%v, %v]", m.Time, before, after)
				plain := msgs[1]
				require.Nil(t, plain.Header)
				require.Equal(t, "bob", plain.From)
				require.False(t, plain.Time.IsZero())
			})
		}
	}
}

// A header over the bounds fails at once with ErrInvalidHeader and
// nothing is queued, connected or not; one at the bounds goes.
func TestPublishMessageHeaderBounds(t *testing.T) {
	ctx := testCtx(t, 15*time.Second)
	srv := newServer(t, nil)
	c := connect(t, ctx, srv, nil, nil)
	many := make(map[string]string)
	for i := range 17 {
		many["k"+strconv.Itoa(i)] = "v"
	}
	for name, h := range map[string]map[string]string{
		"17 entries":  many,
		"4097 bytes":  {"k": strings.Repeat("v", 4096)},
		"empty key":   {"": "v"},
		"control key": {"a\nb": "v"},
		"not UTF-8":   {"k": "\xff"},
	} {
		_, err := c.PublishMessageAsync(realtime.Message{Channel: "c", Data: []byte("x"), Header: h})
		require.True(t, errors.Is(err, realtime.ErrInvalidHeader), "%s: %v", name, err)
		require.NotContains(t, err.Error(), "vvvv", name)
		err = c.PublishMessage(ctx, realtime.Message{Channel: "c", Header: h})
		require.True(t, errors.Is(err, realtime.ErrInvalidHeader), "%s: %v", name, err)
	}
	require.Zero(t, c.Stats().OutboxCount)

	delete(many, "k0")
	require.NoError(t, c.PublishMessage(ctx, realtime.Message{Channel: "c", Header: many}))
	require.NoError(t, c.PublishMessage(ctx, realtime.Message{Channel: "c", Header: map[string]string{"k": strings.Repeat("v", 4095)}}))
}

// The header counts towards the message size limit.
func TestPublishMessageHeaderCountsTowardsSize(t *testing.T) {
	c, err := realtime.New("http://127.0.0.1:1", &realtime.Options{MaxMessageSize: 1024})
	require.NoError(t, err)
	defer c.Close()
	data := []byte(strings.Repeat("a", 900))
	_, err = c.PublishAsync("c", data)
	require.NoError(t, err)
	_, err = c.PublishMessageAsync(realtime.Message{Channel: "c", Data: data, Header: map[string]string{"k": strings.Repeat("v", 200)}})
	require.ErrorIs(t, err, realtime.ErrMessageTooLarge)
}

// A message from a server that sends no metadata has zero values; the
// mock's backend publish has a time and no identity.
func TestMessageWithoutMetadata(t *testing.T) {
	ctx := testCtx(t, 15*time.Second)
	srv := newServer(t, nil)
	rec := newRecorder()
	c := connect(t, ctx, srv, nil, nil)
	require.NoError(t, subscribed(c.Subscribe(ctx, "c", rec.handle)))
	require.NoError(t, srv.Publish(ctx, "c", []byte("backend")))
	m := rec.waitMsgs(t, ctx, 1)[0]
	require.Equal(t, "", m.From)
	require.Nil(t, m.Header)
	require.False(t, m.Time.IsZero())
}
