package codec_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime/codec"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestCBORWire(t *testing.T) {
	cases := []struct {
		name, hex string
		frames    []codec.Frame
	}{
		{
			// {"t":"pub","s":7,"c":"chat","d":h'68656c6c6f'}
			"pub", "a4 6174 63707562 6173 07 6163 6463686174 6164 4568656c6c6f",
			[]codec.Frame{{Type: codec.TypePublish, Seq: 7, Channel: "chat", Data: []byte("hello")}},
		},
		{
			// [{"t":"ping"},{"t":"ack","a":42}]
			"batch", "82 a1 6174 6470696e67 a2 6174 6361636b 6161 182a",
			[]codec.Frame{{Type: codec.TypePing}, {Type: codec.TypeAck, Ack: 42}},
		},
		{
			// {"t":"hello","v":1,"hb":15000,"r":true}
			"hello", "a4 6174 6568656c6c6f 6176 01 626862 193a98 6172 f5",
			[]codec.Frame{{Type: codec.TypeHello, Version: 1, Heartbeat: 15000, Resumed: true}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			msg, err := codec.CBOR{}.Encode(nil, tc.frames...)
			require.NoError(t, err)
			require.Equal(t, want, msg)
			got, err := codec.CBOR{}.Decode(nil, want)
			require.NoError(t, err)
			require.Equal(t, tc.frames, got)
		})
	}
}

// A batch longer than 23 frames needs a longer array head.
func TestCBORLongBatch(t *testing.T) {
	for _, n := range []int{23, 24, 255, 256, codec.MaxBatchFrames} {
		frames := make([]codec.Frame, n)
		for i := range frames {
			frames[i] = codec.Frame{Type: codec.TypeAck, Ack: uint64(i)}
		}
		require.Equal(t, frames, roundTrip(t, codec.CBOR{}, frames...))
	}
	// A 4-byte length head (not minimal, still valid CBOR) is read too.
	one, err := codec.CBOR{}.Encode(nil, codec.Frame{Type: codec.TypePing})
	require.NoError(t, err)
	msg := append([]byte{0x9a, 0, 0, 0, 2}, append(one, one...)...)
	got, err := codec.CBOR{}.Decode(nil, msg)
	require.NoError(t, err)
	require.Equal(t, []codec.Frame{{Type: codec.TypePing}, {Type: codec.TypePing}}, got)
}

func TestCBORDecodeAccepts(t *testing.T) {
	pub := []codec.Frame{{Type: codec.TypePublish, Seq: 1, Channel: "c", Data: []byte("hi")}}
	cases := []struct {
		name string
		msg  []byte
		want []codec.Frame
	}{
		{"unknown keys", mustCBOR(t, map[string]any{
			"t": "pub", "s": 1, "c": "c", "d": []byte("hi"),
			"x": []any{1, "two", map[string]any{"three": -3.5}}, "b": "ignored", "n": nil, "neg": -7,
		}), pub},
		{"null fields", mustCBOR(t, map[string]any{"t": "pub", "s": 1, "c": "c", "d": []byte("hi"), "a": nil, "sid": nil}), pub},
		{"indefinite lengths", unhex(t, "9f bf 6174 7f 61 70 62 7562 ff 6173 01 6163 6163 6164 5f 4168 4169 ff ff ff"), pub},
		{"longer heads", unhex(t, "9801 b90004 780174 7803707562 6173 1b0000000000000001 6163 6163 6164 5a00000002 6869"), pub},
		{"empty data", mustCBOR(t, map[string]any{"t": "pub", "d": []byte{}}), []codec.Frame{{Type: codec.TypePublish}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := codec.CBOR{}.Decode(nil, tc.msg)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestCBORDecodeErrors(t *testing.T) {
	frame := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, codec.ErrMalformed},
		{"integer", unhex(t, "07"), codec.ErrMalformed},
		{"text", mustCBOR(t, "ping"), codec.ErrMalformed},
		{"unknown type", mustCBOR(t, frame("t", "publish")), codec.ErrUnknownType},
		{"unknown type in batch", mustCBOR(t, []any{frame("t", "ping"), frame("t", "Ping")}), codec.ErrUnknownType},
		{"missing type", mustCBOR(t, frame("s", 1)), codec.ErrMalformed},
		{"empty map", unhex(t, "a0"), codec.ErrMalformed},
		{"type as bytes", mustCBOR(t, frame("t", []byte("ping"))), codec.ErrMalformed},
		{"type as int", mustCBOR(t, frame("t", 9)), codec.ErrMalformed},
		{"key case", mustCBOR(t, frame("T", "ping")), codec.ErrMalformed},
		{"duplicate key", unhex(t, "a2 6174 6470696e67 6174 6470696e67"), codec.ErrMalformed},
		{"duplicate unknown key", unhex(t, "a3 6174 6470696e67 6178 01 6178 02"), codec.ErrMalformed},
		{"seq negative", mustCBOR(t, frame("t", "pub", "s", -1)), codec.ErrMalformed},
		{"seq float", mustCBOR(t, frame("t", "pub", "s", 1.0)), codec.ErrMalformed},
		{"seq as text", mustCBOR(t, frame("t", "pub", "s", "1")), codec.ErrMalformed},
		{"seq bignum", unhex(t, "a2 6174 63707562 6173 c249010000000000000000"), codec.ErrMalformed},
		{"hb overflow", mustCBOR(t, frame("t", "hello", "hb", uint64(1)<<32)), codec.ErrMalformed},
		{"code overflow", mustCBOR(t, frame("t", "error", "code", 65536)), codec.ErrMalformed},
		{"version overflow", mustCBOR(t, frame("t", "connect", "v", 256)), codec.ErrMalformed},
		{"bool as int", mustCBOR(t, frame("t", "hello", "r", 1)), codec.ErrMalformed},
		{"data as text", mustCBOR(t, frame("t", "pub", "d", "hi")), codec.ErrMalformed},
		{"channel as bytes", mustCBOR(t, frame("t", "sub", "c", []byte("c"))), codec.ErrMalformed},
		{"invalid UTF-8 text", unhex(t, "a2 6174 63737562 6163 61ff"), codec.ErrMalformed},
		{"tag", unhex(t, "a1 6174 d820 6470696e67"), codec.ErrMalformed},
		{"tag on unknown value", unhex(t, "a2 6174 6470696e67 6178 c1 01"), codec.ErrMalformed},
		{"empty batch", unhex(t, "80"), codec.ErrMalformed},
		{"empty indefinite batch", unhex(t, "9f ff"), codec.ErrMalformed},
		{"nested batch", mustCBOR(t, []any{[]any{frame("t", "ping")}}), codec.ErrMalformed},
		{"batch of text", mustCBOR(t, []any{"ping"}), codec.ErrMalformed},
		{"trailing garbage", append(mustCBOR(t, frame("t", "ping")), 0), codec.ErrMalformed},
		{"trailing after batch", append(mustCBOR(t, []any{frame("t", "ping")}), 0xa0), codec.ErrMalformed},
		{"truncated map", mustCBOR(t, frame("t", "ping", "a", 1))[:5], codec.ErrMalformed},
		{"truncated batch", unhex(t, "82 a1 6174 6470696e67"), codec.ErrMalformed},
		{"unterminated indefinite batch", unhex(t, "9f a1 6174 6470696e67"), codec.ErrMalformed},
		{"truncated array head", unhex(t, "9a 0000"), codec.ErrMalformed},
		{"reserved array head", unhex(t, "9c"), codec.ErrMalformed},
		{"huge declared batch", unhex(t, "9b ffffffffffffffff a1 6174 6470696e67"), codec.ErrMalformed},
		{"huge declared string", unhex(t, "a1 6174 7b7fffffffffffffff 70696e67"), codec.ErrMalformed},
		{"huge declared map", unhex(t, "bb7fffffffffffffff 6174 6470696e67"), codec.ErrMalformed},
		{"unknown value nested too deep", append(unhex(t, "a2 6174 6470696e67 6178"+strings.Repeat("81", 20)), 0), codec.ErrMalformed},
		{"unknown array too long", append(unhex(t, "a2 6174 6470696e67 6178 9a00010000"), make([]byte, 1<<16)...), codec.ErrMalformed},
		{"break outside container", unhex(t, "ff"), codec.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := []codec.Frame{{Type: codec.TypeAck, Ack: 1}}
			out, err := codec.CBOR{}.Decode(dst, tc.msg)
			require.ErrorIs(t, err, tc.want)
			var de *codec.DecodeError
			require.ErrorAs(t, err, &de)
			require.Equal(t, "cbor", de.Codec)
			require.Equal(t, dst, out)
			if tc.want == codec.ErrUnknownType {
				require.NotErrorIs(t, err, codec.ErrMalformed)
			}
		})
	}
}

// Decoding hostile input must cost memory in proportion to its size, not
// to the lengths it declares.
func TestCBORDecodeBoundedMemory(t *testing.T) {
	msg := unhex(t, "9b 00000000ffffffff"+strings.Repeat("a0", 100))
	allocs := testing.AllocsPerRun(10, func() {
		_, _ = codec.CBOR{}.Decode(nil, msg)
	})
	require.Less(t, allocs, 20.0)

	big := bytes.Repeat([]byte{0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 10)
	_, err := codec.CBOR{}.Decode(nil, big)
	require.ErrorIs(t, err, codec.ErrMalformed)
}
