package codec_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/leakcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

var codecs = []codec.Codec{codec.JSON{}, codec.CBOR{}}

// fullFrames has one frame of every type, each with every field set, so
// that a round trip exercises every key whether or not the type uses it.
func fullFrames() []codec.Frame {
	var frames []codec.Frame
	for t := codec.TypeConnect; t.Valid(); t++ {
		frames = append(frames, codec.Frame{
			Type:       t,
			Seq:        1<<64 - 1,
			Ack:        1 << 53,
			Channel:    "chat/ü-" + t.String(),
			Data:       []byte("payload \"quoted\" \\ \n\t\x00 \u2028 ☃"),
			Session:    "s-" + t.String(),
			Token:      "tok\x7f",
			Heartbeat:  1<<32 - 1,
			Resumed:    true,
			Code:       1<<16 - 1,
			Reason:     "reason </script> & more",
			Ref:        42,
			Version:    255,
			InboxBytes: 1<<64 - 1,
			Time:       1<<64 - 1,
			From:       "from \"ü\" \u2028",
			Header:     map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "": "\x00\n"},
		})
	}
	return frames
}

// typicalFrames are frames as the session layer sends them.
var typicalFrames = []codec.Frame{
	{Type: codec.TypeConnect, Version: 1},
	{Type: codec.TypeConnect, Version: 1, Session: "sess", Token: "tok", Ack: 17},
	{Type: codec.TypeConnect, Version: 1, Ack: 17, InboxBytes: 16 << 20},
	{Type: codec.TypeHello, Version: 1, Session: "sess", Token: "tok2", Heartbeat: 15000, Resumed: true, Ack: 3},
	{Type: codec.TypePublish, Seq: 7, Channel: "chat", Data: []byte("hello")},
	{Type: codec.TypePublish, Seq: 8, Channel: "bin", Data: []byte{0xff, 0xfe, 0x00}},
	{Type: codec.TypeSubscribe, Seq: 9, Channel: "chat"},
	{Type: codec.TypeUnsub, Seq: 10, Channel: "chat"},
	{Type: codec.TypeAck, Ack: 42},
	{Type: codec.TypeNack, Seq: 2, Ref: 8, Code: 4003, Reason: "forbidden"},
	{Type: codec.TypeMessage, Seq: 3, Channel: "chat", Data: []byte(`{"json":"inside"}`)},
	{Type: codec.TypeMessage, Seq: 4, Channel: "chat", Data: []byte("hi"), Time: 1764320000123, From: "ada",
		Header: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}},
	{Type: codec.TypePublish, Seq: 11, Channel: "chat", Data: []byte("hi"), Header: map[string]string{"k": "v"}},
	{Type: codec.TypePing},
	{Type: codec.TypeError, Code: 4001, Reason: "unauthorized"},
	{Type: codec.TypeClose, Code: 1000},
}

func roundTrip(t *testing.T, c codec.Codec, frames ...codec.Frame) []codec.Frame {
	t.Helper()
	msg, err := c.Encode(nil, frames...)
	require.NoError(t, err)
	got, err := c.Decode(nil, msg)
	require.NoError(t, err, "message: %q", msg)
	return got
}

func TestRoundTrip(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.Name(), func(t *testing.T) {
			for _, f := range append(fullFrames(), typicalFrames...) {
				require.Equal(t, []codec.Frame{f}, roundTrip(t, c, f), "frame %+v", f)
			}
		})
	}
}

func TestRoundTripBatch(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.Name(), func(t *testing.T) {
			for _, frames := range [][]codec.Frame{
				fullFrames(),
				typicalFrames,
				typicalFrames[:2],
				{{Type: codec.TypePing}, {Type: codec.TypePing}},
			} {
				require.Equal(t, frames, roundTrip(t, c, frames...))
			}
		})
	}
}

func TestBatchOfOneIsASingleFrame(t *testing.T) {
	msg, err := codec.JSON{}.Encode(nil, codec.Frame{Type: codec.TypePing})
	require.NoError(t, err)
	require.Equal(t, `{"t":"ping"}`, string(msg))

	msg, err = codec.CBOR{}.Encode(nil, codec.Frame{Type: codec.TypePing})
	require.NoError(t, err)
	require.Equal(t, byte(0xa1), msg[0], "a map of one pair, not an array")
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestPayloads(t *testing.T) {
	payloads := map[string][]byte{
		"all byte values":      allBytes(),
		"invalid UTF-8":        {'a', 0xc3, 'b'},
		"truncated rune":       []byte("snow☃")[:6],
		"encoded surrogate":    {0xed, 0xa0, 0x80},
		"overlong encoding":    {0xc0, 0xaf},
		"controls":             []byte("\x00\x01\x1f\x7f\b\f\n\r\t"),
		"line separators":      []byte("a\u2028b\u2029c\u2027"),
		"quotes and escapes":   []byte(`"\"\\/\u0041`),
		"astral":               []byte("😀𝄞"),
		"single byte":          {0x80},
		"base64 padding one":   {0xff},
		"base64 padding two":   {0xff, 0xfe},
		"base64 padding none":  {0xff, 0xfe, 0xfd},
		"large":                bytes.Repeat(allBytes(), 400),
		"large valid":          []byte(strings.Repeat("日本語 text ", 5000)),
		"JSON looking payload": []byte(`[{"t":"ping"}]`),
	}
	for _, c := range codecs {
		for name, p := range payloads {
			t.Run(c.Name()+"/"+name, func(t *testing.T) {
				f := codec.Frame{Type: codec.TypePublish, Seq: 1, Channel: "c", Data: p}
				got := roundTrip(t, c, f)
				require.Len(t, got, 1)
				require.Equal(t, p, got[0].Data)
			})
		}
	}
}

// An empty payload is left out like any zero field, so it cannot be told
// from a missing one: both arrive as an empty (nil) payload.
func TestEmptyPayload(t *testing.T) {
	for _, c := range codecs {
		for _, p := range [][]byte{nil, {}} {
			got := roundTrip(t, c, codec.Frame{Type: codec.TypePublish, Seq: 1, Channel: "c", Data: p})
			require.Len(t, got, 1)
			require.Empty(t, got[0].Data)
		}
	}
}

func TestDecodeCopies(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.Name(), func(t *testing.T) {
			f := codec.Frame{Type: codec.TypeMessage, Seq: 1, Channel: "chan", Data: []byte("data")}
			msg, err := c.Encode(nil, f)
			require.NoError(t, err)
			got, err := c.Decode(nil, msg)
			require.NoError(t, err)
			for i := range msg {
				msg[i] = 'x'
			}
			require.Equal(t, []codec.Frame{f}, got)
		})
	}
}

func TestAppends(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.Name(), func(t *testing.T) {
			prefix := []byte("prefix")
			msg, err := c.Encode(prefix, codec.Frame{Type: codec.TypePing})
			require.NoError(t, err)
			require.Equal(t, "prefix", string(msg[:6]))

			first := codec.Frame{Type: codec.TypeAck, Ack: 1}
			dst := make([]codec.Frame, 1, 8)
			dst[0] = first
			dst, err = c.Decode(dst, msg[6:])
			require.NoError(t, err)
			require.Equal(t, []codec.Frame{first, {Type: codec.TypePing}}, dst)
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	valid := codec.Frame{Type: codec.TypePing}
	cases := []struct {
		name   string
		frames []codec.Frame
		want   error
	}{
		{"no frames", nil, codec.ErrMalformed},
		{"zero type", []codec.Frame{{}}, codec.ErrUnknownType},
		{"type out of range", []codec.Frame{{Type: codec.TypeClose + 1}}, codec.ErrUnknownType},
		{"invalid type in batch", []codec.Frame{valid, {Type: 200}}, codec.ErrUnknownType},
		{"channel", []codec.Frame{{Type: codec.TypeSubscribe, Channel: "a\xffb"}}, codec.ErrMalformed},
		{"session", []codec.Frame{{Type: codec.TypeHello, Session: "\xc0"}}, codec.ErrMalformed},
		{"token", []codec.Frame{{Type: codec.TypeHello, Token: "\xed\xa0\x80"}}, codec.ErrMalformed},
		{"reason", []codec.Frame{valid, {Type: codec.TypeError, Reason: "bad\xe2\x82"}}, codec.ErrMalformed},
	}
	for _, c := range codecs {
		for _, tc := range cases {
			t.Run(c.Name()+"/"+tc.name, func(t *testing.T) {
				dst := []byte("keep")
				out, err := c.Encode(dst, tc.frames...)
				require.ErrorIs(t, err, tc.want)
				require.Equal(t, "keep", string(out))
			})
		}
	}
}

func TestEncodeSizeLimit(t *testing.T) {
	for _, c := range []codec.Codec{codec.JSON{MaxSize: 100}, codec.CBOR{MaxSize: 100}} {
		t.Run(c.Name(), func(t *testing.T) {
			// The payload alone is over the limit.
			_, err := c.Encode(nil, codec.Frame{Type: codec.TypePublish, Data: make([]byte, 101)})
			var se *codec.SizeError
			require.ErrorAs(t, err, &se)
			require.Equal(t, 100, se.Limit)
			require.Greater(t, se.Size, 100)
			require.ErrorIs(t, err, codec.ErrTooLarge)

			// The payload fits but the frame does not.
			_, err = c.Encode(nil, codec.Frame{Type: codec.TypePublish, Channel: "chat", Data: make([]byte, 95)})
			require.ErrorAs(t, err, &se)

			// Every frame fits but the batch does not.
			pings := make([]codec.Frame, 30)
			for i := range pings {
				pings[i] = codec.Frame{Type: codec.TypeAck, Ack: uint64(i)}
			}
			out, err := c.Encode([]byte("keep"), pings...)
			require.ErrorAs(t, err, &se)
			require.Equal(t, "keep", string(out))

			// The limit counts the message, not what dst held before.
			msg, err := c.Encode(make([]byte, 1000), codec.Frame{Type: codec.TypePublish, Data: bytes.Repeat([]byte("a"), 50)})
			require.NoError(t, err)
			require.LessOrEqual(t, len(msg)-1000, 100)
		})
	}
}

func TestEncodeDefaultLimit(t *testing.T) {
	for _, c := range codecs {
		big := codec.Frame{Type: codec.TypePublish, Data: make([]byte, codec.DefaultMaxSize)}
		_, err := c.Encode(nil, big)
		require.ErrorIs(t, err, codec.ErrTooLarge, c.Name())

		fits := codec.Frame{Type: codec.TypePublish, Data: bytes.Repeat([]byte("a"), codec.DefaultMaxSize/2)}
		_, err = c.Encode(nil, fits)
		require.NoError(t, err, c.Name())
	}
}

func TestDecodeSizeLimit(t *testing.T) {
	for _, c := range []codec.Codec{codec.JSON{MaxSize: 16}, codec.CBOR{MaxSize: 16}} {
		t.Run(c.Name(), func(t *testing.T) {
			// Garbage over the limit is refused for its size, unparsed.
			dst := []codec.Frame{{Type: codec.TypePing}}
			out, err := c.Decode(dst, bytes.Repeat([]byte{0xff}, 17))
			var se *codec.SizeError
			require.ErrorAs(t, err, &se)
			require.Equal(t, codec.SizeError{Size: 17, Limit: 16}, *se)
			require.Equal(t, dst, out)
			var de *codec.DecodeError
			require.False(t, errors.As(err, &de))
		})
	}
}

func TestDecodeErrorLeavesDst(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.Name(), func(t *testing.T) {
			good, err := c.Encode(nil, codec.Frame{Type: codec.TypeAck, Ack: 1}, codec.Frame{Type: codec.TypePing})
			require.NoError(t, err)
			bad := append(good[:len(good):len(good)], 0) // trailing garbage after two good frames
			dst := make([]codec.Frame, 1, 10)
			dst[0] = codec.Frame{Type: codec.TypeClose}
			out, err := c.Decode(dst, bad)
			require.ErrorIs(t, err, codec.ErrMalformed)
			var de *codec.DecodeError
			require.ErrorAs(t, err, &de)
			require.Equal(t, c.Name(), de.Codec)
			require.Equal(t, []codec.Frame{{Type: codec.TypeClose}}, out)
			require.Equal(t, codec.Frame{}, dst[:2][1], "spare capacity is cleared")
		})
	}
}

func TestByName(t *testing.T) {
	require.Equal(t, codec.JSON{}, codec.ByName("json"))
	require.Equal(t, codec.CBOR{}, codec.ByName("cbor"))
	require.Nil(t, codec.ByName("xml"))
	require.False(t, codec.JSON{}.Binary())
	require.True(t, codec.CBOR{}.Binary())
}

func TestTypes(t *testing.T) {
	for typ := codec.TypeConnect; typ.Valid(); typ++ {
		got, ok := codec.ParseType(typ.String())
		require.True(t, ok)
		require.Equal(t, typ, got)
	}
	_, ok := codec.ParseType("")
	require.False(t, ok)
	require.Equal(t, "Type(0)", codec.Type(0).String())
}

// A message of minimal frames decodes into far more memory than it
// takes: past codec.MaxBatchFrames it is refused, and neither side makes
// one.
func TestBatchFrameLimit(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.Name(), func(t *testing.T) {
			frames := make([]codec.Frame, codec.MaxBatchFrames+1)
			for i := range frames {
				frames[i] = codec.Frame{Type: codec.TypePing}
			}
			_, err := c.Encode(nil, frames...)
			require.ErrorIs(t, err, codec.ErrMalformed, "encode over the limit")

			msg, err := c.Encode(nil, frames[:codec.MaxBatchFrames]...)
			require.NoError(t, err)
			got, err := c.Decode(nil, msg)
			require.NoError(t, err)
			require.Len(t, got, codec.MaxBatchFrames)

			// One more, built by hand from the encoding of the limit.
			one, err := c.Encode(nil, codec.Frame{Type: codec.TypePing})
			require.NoError(t, err)
			var over []byte
			if c.Name() == "json" {
				over = append(append(append([]byte{}, msg[:len(msg)-1]...), ','), one...)
				over = append(over, ']')
			} else { // array head 0x99 + 2-byte length 4096 becomes 4097
				over = append([]byte{0x99, 0x10, 0x01}, msg[3:]...)
				over = append(over, one...)
			}
			dst := []codec.Frame{{Type: codec.TypeAck, Ack: 1}}
			out, err := c.Decode(dst, over)
			var de *codec.DecodeError
			require.ErrorAs(t, err, &de)
			require.ErrorContains(t, err, "more than 4096 frames")
			require.Equal(t, dst, out, "dst unchanged")
		})
	}
}
