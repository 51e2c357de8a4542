package codec_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime/codec"
)

// metaFrame is a msg carrying every optional key of message metadata.
func metaFrame() codec.Frame {
	return codec.Frame{
		Type: codec.TypeMessage, Seq: 9, Channel: "room", Data: []byte("hi"),
		Time: 1764320000123, From: "user-7",
		Header: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "z": "", "é": "\"\n"},
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.Name(), func(t *testing.T) {
			for _, fr := range []codec.Frame{
				metaFrame(),
				{Type: codec.TypePublish, Seq: 3, Channel: "c", Header: map[string]string{"k": "v"}},
				{Type: codec.TypeMessage, Seq: 1, Channel: "c", From: "ü", Time: 1},
			} {
				msg, err := c.Encode(nil, fr)
				require.NoError(t, err)
				got, err := c.Decode(nil, msg)
				require.NoError(t, err)
				require.Equal(t, []codec.Frame{fr}, got)
				// The same frame always encodes to the same bytes, header
				// entries in key order.
				for range 5 {
					again, err := c.Encode(nil, fr)
					require.NoError(t, err)
					require.Equal(t, msg, again)
				}
			}
		})
	}
}

func TestMetadataJSONWire(t *testing.T) {
	fr := codec.Frame{Type: codec.TypeMessage, Seq: 2, Channel: "c", Data: []byte("x"), Time: 1700000000000, From: "ada",
		Header: map[string]string{"b": "2", "a": "1"}}
	msg, err := codec.JSON{}.Encode(nil, fr)
	require.NoError(t, err)
	require.Equal(t, `{"t":"msg","s":2,"c":"c","d":"x","ts":1700000000000,"from":"ada","h":{"a":"1","b":"2"}}`, string(msg))
}

// A frame of a peer that knows nothing of metadata decodes to zero values,
// and one that leaves them null or empty does too.
func TestMetadataAbsent(t *testing.T) {
	for _, wire := range []string{
		`{"t":"msg","s":2,"c":"c","d":"x"}`,
		`{"t":"msg","s":2,"c":"c","d":"x","ts":null,"from":null,"h":null}`,
		`{"t":"msg","s":2,"c":"c","d":"x","from":"","h":{ }}`,
	} {
		got, err := codec.JSON{}.Decode(nil, []byte(wire))
		require.NoError(t, err, wire)
		require.Equal(t, []codec.Frame{{Type: codec.TypeMessage, Seq: 2, Channel: "c", Data: []byte("x")}}, got, wire)
	}
	for _, v := range []map[string]any{
		{"t": "msg", "s": 2, "c": "c", "d": []byte("x")},
		{"t": "msg", "s": 2, "c": "c", "d": []byte("x"), "h": map[string]string{}, "ts": nil, "from": nil},
	} {
		got, err := codec.CBOR{}.Decode(nil, mustCBOR(t, v))
		require.NoError(t, err)
		require.Equal(t, []codec.Frame{{Type: codec.TypeMessage, Seq: 2, Channel: "c", Data: []byte("x")}}, got)
	}
}

func TestMetadataMalformed(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"t":"msg","h":{`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"k` + strconv.Itoa(i) + `":""`)
		}
		b.WriteString(`}}`)
		return b.String()
	}
	for _, wire := range []string{
		`{"t":"msg","h":[]}`, `{"t":"msg","h":"a"}`, `{"t":"msg","h":{"a":1}}`, `{"t":"msg","h":{"a":null}}`,
		`{"t":"msg","h":{"a":"1","a":"2"}}`, `{"t":"msg","h":{"a":"1",}}`, `{"t":"msg","h":{"a"}}`,
		`{"t":"msg","h":{"a":"1"}x}`, `{"t":"msg","ts":-1}`, `{"t":"msg","ts":1.5}`, `{"t":"msg","from":7}`,
		`{"t":"msg","h":{},"h":{}}`, many(codec.MaxHeaderEntries + 1),
	} {
		_, err := codec.JSON{}.Decode(nil, []byte(wire))
		require.ErrorIs(t, err, codec.ErrMalformed, wire)
	}
	_, err := codec.JSON{}.Decode(nil, []byte(many(codec.MaxHeaderEntries)))
	require.NoError(t, err)

	for _, v := range []map[string]any{
		{"t": "msg", "h": []any{}}, {"t": "msg", "h": map[string]any{"a": 1}}, {"t": "msg", "ts": -1},
		{"t": "msg", "h": map[string]any{"a": []byte("b")}},
	} {
		_, err := codec.CBOR{}.Decode(nil, mustCBOR(t, v))
		require.ErrorIs(t, err, codec.ErrMalformed, "%v", v)
	}

	for _, c := range codecs {
		for _, fr := range []codec.Frame{
			{Type: codec.TypePublish, Seq: 1, Channel: "c", From: "\xff"},
			{Type: codec.TypePublish, Seq: 1, Channel: "c", Header: map[string]string{"\xff": ""}},
			{Type: codec.TypePublish, Seq: 1, Channel: "c", Header: map[string]string{"k": "\xfe"}},
		} {
			out, err := c.Encode([]byte("keep"), fr)
			require.ErrorIs(t, err, codec.ErrMalformed)
			require.Equal(t, "keep", string(out))
		}
	}
}
