package realtime_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/mock"
)

// bigCodec is an application's codec: JSON under the wire name "json",
// ignoring every size limit.
type bigCodec struct{}

func (bigCodec) Name() string { return "json" }
func (bigCodec) Binary() bool { return false }
func (bigCodec) Encode(dst []byte, fs ...codec.Frame) ([]byte, error) {
	return codec.JSON{MaxSize: 1 << 30}.Encode(dst, fs...)
}
func (bigCodec) Decode(dst []codec.Frame, msg []byte) ([]codec.Frame, error) {
	return codec.JSON{MaxSize: 1 << 30}.Decode(dst, msg)
}

// poisonCodec measures like JSON but refuses, once numbered, a publish
// whose payload is "poison": a codec that encodes a frame differently from
// when PublishAsync measured it.
type poisonCodec struct{ codec.JSON }

func (p poisonCodec) Encode(dst []byte, fs ...codec.Frame) ([]byte, error) {
	for _, f := range fs {
		if f.Type == codec.TypePublish && f.Seq != 1<<64-1 && string(f.Data) == "poison" {
			return dst, &codec.SizeError{Size: 1 << 30, Limit: 1 << 20}
		}
	}
	return p.JSON.Encode(dst, fs...)
}

func binaryPayload(n int) []byte {
	b := bytes.Repeat([]byte{0xff, 0xfe, 0x80}, n/3+1)
	return b[:n]
}

// Finding 2: a publish whose ENCODING exceeds the limit is refused at once
// with ErrMessageTooLarge; it never reaches the link, later publishes go
// through and the link is not reconnected.
func TestPublishOverEncodedLimitIsRefusedAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts realtime.Options
		data []byte
	}{
		{"json 900 KiB binary", realtime.Options{}, binaryPayload(900 << 10)},
		{"cbor 2 MiB, MaxMessageSize 4 MiB", realtime.Options{Codec: codec.CBOR{}, MaxMessageSize: 4 << 20}, binaryPayload(2 << 20)},
		{"user codec 900 KiB binary", realtime.Options{Codec: bigCodec{}}, binaryPayload(900 << 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, 10*time.Second)
			srv := newServer(t, nil)
			opts := tc.opts
			c := connect(t, ctx, srv, &opts, nil)
			before := c.Stats().Connects

			start := time.Now()
			_, err := c.PublishAsync("ch", tc.data)
			require.ErrorIs(t, err, realtime.ErrMessageTooLarge)
			require.ErrorIs(t, c.Publish(ctx, "ch", tc.data), realtime.ErrMessageTooLarge)
			require.Less(t, time.Since(start), scaled(time.Second), "refused at once")

			for i := range 3 {
				require.NoError(t, c.Publish(ctx, "ch", []byte{'a' + byte(i)}))
			}
			require.Equal(t, before, c.Stats().Connects, "the link was never torn down")
			require.Equal(t, realtime.StateConnected, c.State())
		})
	}
}

// A publish the codec refuses only in the writer fails alone, with
// ErrMessageTooLarge; the frames around it are acknowledged in order on
// the same link.
func TestEncodeFailureInWriterFailsOnlyThatPublish(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	srv := newServer(t, nil)
	c := connect(t, ctx, srv, &realtime.Options{Codec: poisonCodec{}}, nil)
	before := c.Stats().Connects

	var rs []*realtime.Receipt
	for _, d := range []string{"a", "poison", "b", "c"} {
		r, err := c.PublishAsync("ch", []byte(d))
		require.NoError(t, err)
		rs = append(rs, r)
	}
	require.NoError(t, rs[0].Wait(ctx))
	require.ErrorIs(t, rs[1].Wait(ctx), realtime.ErrMessageTooLarge)
	require.NoError(t, rs[2].Wait(ctx))
	require.NoError(t, rs[3].Wait(ctx))
	require.NoError(t, c.Publish(ctx, "ch", []byte("d")))
	require.Equal(t, before, c.Stats().Connects)

	got, err := srv.WaitReceived(ctx, 4)
	require.NoError(t, err)
	var datas []string
	for _, m := range got {
		datas = append(datas, string(m.Data))
	}
	require.Equal(t, []string{"a", "b", "c", "d"}, datas)
}

var _ = mock.Options{}
