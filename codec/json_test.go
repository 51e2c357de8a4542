package codec_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime/codec"
)

// Messages exactly as docs/PROTOCOL.md and the session layer spell them.
var jsonWire = []struct {
	wire   string
	frames []codec.Frame
}{
	{`{"t":"pub","s":7,"c":"chat","d":"hello"}`, []codec.Frame{{Type: codec.TypePublish, Seq: 7, Channel: "chat", Data: []byte("hello")}}},
	{`{"t":"ping"}`, []codec.Frame{{Type: codec.TypePing}}},
	// PROTOCOL.md section 2.1's example.
	{`{"t":"msg","s":4,"c":"orders","d":"{\"id\":42}","ts":1764320000123,"from":"ada","h":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}`,
		[]codec.Frame{{Type: codec.TypeMessage, Seq: 4, Channel: "orders", Data: []byte(`{"id":42}`), Time: 1764320000123, From: "ada",
			Header: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}}},
	{`{"t":"ack","a":42}`, []codec.Frame{{Type: codec.TypeAck, Ack: 42}}},
	{`{"t":"connect","v":1,"a":17,"sid":"s1","tok":"t1"}`, []codec.Frame{{Type: codec.TypeConnect, Version: 1, Ack: 17, Session: "s1", Token: "t1"}}},
	{`{"t":"connect","v":1,"inb":16777216}`, []codec.Frame{{Type: codec.TypeConnect, Version: 1, InboxBytes: 16 << 20}}},
	{`{"t":"hello","v":1,"a":3,"sid":"s1","tok":"t2","hb":15000,"r":true}`, []codec.Frame{{Type: codec.TypeHello, Version: 1, Ack: 3, Session: "s1", Token: "t2", Heartbeat: 15000, Resumed: true}}},
	{`{"t":"sub","s":1,"c":"news"}`, []codec.Frame{{Type: codec.TypeSubscribe, Seq: 1, Channel: "news"}}},
	{`{"t":"unsub","s":2,"c":"news"}`, []codec.Frame{{Type: codec.TypeUnsub, Seq: 2, Channel: "news"}}},
	{`{"t":"nack","s":4,"code":4003,"reason":"forbidden","ref":9}`, []codec.Frame{{Type: codec.TypeNack, Seq: 4, Code: 4003, Reason: "forbidden", Ref: 9}}},
	{`{"t":"msg","s":5,"c":"chat","b":"/w=="}`, []codec.Frame{{Type: codec.TypeMessage, Seq: 5, Channel: "chat", Data: []byte{0xff}}}},
	{`{"t":"error","code":4500,"reason":"sequence gap"}`, []codec.Frame{{Type: codec.TypeError, Code: 4500, Reason: "sequence gap"}}},
	{`{"t":"close","code":1000}`, []codec.Frame{{Type: codec.TypeClose, Code: 1000}}},
	{`[{"t":"ping"},{"t":"ack","a":42}]`, []codec.Frame{{Type: codec.TypePing}, {Type: codec.TypeAck, Ack: 42}}},
	{`{"t":"pub","s":1,"c":"c","d":"a\"b\\c\n\u0000\u001f\u2028\u2029é"}`, []codec.Frame{{Type: codec.TypePublish, Seq: 1, Channel: "c", Data: []byte("a\"b\\c\n\x00\x1f\u2028\u2029é")}}},
	{`{"t":"error","s":18446744073709551615,"hb":4294967295,"code":65535,"reason":"\b\f\r\t"}`, []codec.Frame{{Type: codec.TypeError, Seq: 1<<64 - 1, Heartbeat: 1<<32 - 1, Code: 1<<16 - 1, Reason: "\b\f\r\t"}}},
}

func TestJSONWire(t *testing.T) {
	for _, tc := range jsonWire {
		t.Run(tc.wire, func(t *testing.T) {
			msg, err := codec.JSON{}.Encode(nil, tc.frames...)
			require.NoError(t, err)
			require.Equal(t, tc.wire, string(msg))
			require.True(t, json.Valid(msg))

			got, err := codec.JSON{}.Decode(nil, []byte(tc.wire))
			require.NoError(t, err)
			require.Equal(t, tc.frames, got)
		})
	}
}

// The encoder's strings must read back the same through another decoder.
func TestJSONEncodeMatchesEncodingJSON(t *testing.T) {
	var b strings.Builder
	for r := rune(0); r < 0x3000; r++ {
		b.WriteRune(r)
	}
	s := b.String() + "😀\U0010FFFF"
	msg, err := codec.JSON{}.Encode(nil, codec.Frame{Type: codec.TypeError, Reason: s, Data: []byte(s)})
	require.NoError(t, err)
	require.NotContains(t, string(msg), "\u2028")
	require.NotContains(t, string(msg), "\u2029")
	var v struct{ Reason, D string }
	require.NoError(t, json.Unmarshal(msg, &v))
	require.Equal(t, s, v.Reason)
	require.Equal(t, s, v.D)
}

// Well-formed messages that a strict reading might refuse but that are
// valid JSON and valid protocol.
func TestJSONDecodeAccepts(t *testing.T) {
	pub := codec.Frame{Type: codec.TypePublish, Seq: 1, Channel: "c", Data: []byte("hi")}
	cases := []struct {
		name string
		msg  string
		want []codec.Frame
	}{
		{"whitespace", " \t\r\n{ \"t\" : \"pub\" , \"s\" : 1 ,\"c\":\"c\",\"d\":\"hi\" }\n", []codec.Frame{pub}},
		{"batch whitespace", "[ {\"t\":\"ping\"} ,\n{\"t\":\"ping\"} ]", []codec.Frame{{Type: codec.TypePing}, {Type: codec.TypePing}}},
		{"any key order", `{"d":"hi","c":"c","s":1,"t":"pub"}`, []codec.Frame{pub}},
		{"unknown keys", `{"t":"pub","x":1,"s":1,"obj":{"a":[1,{"b":null}],"c":"d"},"c":"c","arr":[],"n":-1.5e+3,"f":false,"d":"hi","z":"\u00e9"}`, []codec.Frame{pub}},
		{"unknown key twice", `{"t":"ping","x":1,"x":2}`, []codec.Frame{{Type: codec.TypePing}}},
		{"escaped keys", `{"\u0074":"\u0070ub","s":1,"\u0063":"c","d":"h\u0069"}`, []codec.Frame{pub}},
		{"null fields", `{"t":"pub","s":1,"c":"c","d":"hi","a":null,"b":null,"r":null,"sid":null}`, []codec.Frame{pub}},
		{"base64 data", `{"t":"pub","s":1,"c":"c","b":"aGk="}`, []codec.Frame{pub}},
		{"empty data", `{"t":"pub","s":1,"c":"c","d":""}`, []codec.Frame{{Type: codec.TypePublish, Seq: 1, Channel: "c"}}},
		{"empty base64", `{"t":"pub","s":1,"c":"c","b":""}`, []codec.Frame{{Type: codec.TypePublish, Seq: 1, Channel: "c"}}},
		{"zero numbers", `{"t":"ack","a":0,"s":0}`, []codec.Frame{{Type: codec.TypeAck}}},
		{"false", `{"t":"hello","r":false}`, []codec.Frame{{Type: codec.TypeHello}}},
		{"surrogate pair", `{"t":"error","reason":"\ud83d\ude00"}`, []codec.Frame{{Type: codec.TypeError, Reason: "😀"}}},
		{"lone surrogate", `{"t":"error","reason":"a\ud800b\udc00\ud800\u0041"}`, []codec.Frame{{Type: codec.TypeError, Reason: "a\uFFFDb\uFFFD\uFFFDA"}}},
		{"solidus", `{"t":"sub","c":"a\/b"}`, []codec.Frame{{Type: codec.TypeSubscribe, Channel: "a/b"}}},
		{"raw U+2028", "{\"t\":\"sub\",\"c\":\"a\u2028b\"}", []codec.Frame{{Type: codec.TypeSubscribe, Channel: "a\u2028b"}}},
		{"single element batch", `[{"t":"ping"}]`, []codec.Frame{{Type: codec.TypePing}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := codec.JSON{}.Decode(nil, []byte(tc.msg))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestJSONDecodeErrors(t *testing.T) {
	deep := strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40)
	cases := []struct {
		name, msg string
		want      error
	}{
		{"empty", ``, codec.ErrMalformed},
		{"spaces", `   `, codec.ErrMalformed},
		{"not JSON", `hello`, codec.ErrMalformed},
		{"string", `"pub"`, codec.ErrMalformed},
		{"number", `7`, codec.ErrMalformed},
		{"null", `null`, codec.ErrMalformed},
		{"unknown type", `{"t":"publish"}`, codec.ErrUnknownType},
		{"unknown type in batch", `[{"t":"ping"},{"t":"PING"}]`, codec.ErrUnknownType},
		{"missing type", `{"s":1}`, codec.ErrMalformed},
		{"empty object", `{}`, codec.ErrMalformed},
		{"null type", `{"t":null}`, codec.ErrMalformed},
		{"empty type", `{"t":""}`, codec.ErrMalformed},
		{"type not a string", `{"t":3}`, codec.ErrMalformed},
		{"key case", `{"T":"ping"}`, codec.ErrMalformed},
		{"duplicate type", `{"t":"ping","t":"ack"}`, codec.ErrMalformed},
		{"duplicate field", `{"t":"ack","a":1,"a":2}`, codec.ErrMalformed},
		{"d and b", `{"t":"pub","d":"hi","b":"aGk="}`, codec.ErrMalformed},
		{"empty d and b", `{"t":"pub","d":"","b":""}`, codec.ErrMalformed},
		{"seq as string", `{"t":"pub","s":"7"}`, codec.ErrMalformed},
		{"seq negative", `{"t":"pub","s":-1}`, codec.ErrMalformed},
		{"seq fraction", `{"t":"pub","s":1.5}`, codec.ErrMalformed},
		{"seq whole fraction", `{"t":"pub","s":1.0}`, codec.ErrMalformed},
		{"seq exponent", `{"t":"pub","s":1e3}`, codec.ErrMalformed},
		{"seq leading zero", `{"t":"pub","s":01}`, codec.ErrMalformed},
		{"seq overflow", `{"t":"pub","s":18446744073709551616}`, codec.ErrMalformed},
		{"seq huge", `{"t":"pub","s":99999999999999999999999}`, codec.ErrMalformed},
		{"ack overflow", `{"t":"ack","a":18446744073709551616}`, codec.ErrMalformed},
		{"ref overflow", `{"t":"nack","ref":18446744073709551616}`, codec.ErrMalformed},
		{"hb overflow", `{"t":"hello","hb":4294967296}`, codec.ErrMalformed},
		{"code overflow", `{"t":"error","code":65536}`, codec.ErrMalformed},
		{"version overflow", `{"t":"connect","v":256}`, codec.ErrMalformed},
		{"bool as number", `{"t":"hello","r":1}`, codec.ErrMalformed},
		{"bool as string", `{"t":"hello","r":"true"}`, codec.ErrMalformed},
		{"channel as number", `{"t":"sub","c":7}`, codec.ErrMalformed},
		{"data as array", `{"t":"pub","d":[1,2]}`, codec.ErrMalformed},
		{"bad base64", `{"t":"pub","b":"***"}`, codec.ErrMalformed},
		{"base64 without padding", `{"t":"pub","b":"aGk"}`, codec.ErrMalformed},
		{"base64 with newline", `{"t":"pub","b":"aG\nk="}`, codec.ErrMalformed},
		{"empty batch", `[]`, codec.ErrMalformed},
		{"empty batch spaces", `[ ]`, codec.ErrMalformed},
		{"nested batch", `[[{"t":"ping"}]]`, codec.ErrMalformed},
		{"batch of strings", `["ping"]`, codec.ErrMalformed},
		{"trailing comma", `[{"t":"ping"},]`, codec.ErrMalformed},
		{"trailing comma in object", `{"t":"ping",}`, codec.ErrMalformed},
		{"unterminated batch", `[{"t":"ping"}`, codec.ErrMalformed},
		{"unterminated object", `{"t":"ping"`, codec.ErrMalformed},
		{"unterminated string", `{"t":"ping`, codec.ErrMalformed},
		{"trailing garbage", `{"t":"ping"}x`, codec.ErrMalformed},
		{"two objects", `{"t":"ping"}{"t":"ping"}`, codec.ErrMalformed},
		{"trailing after batch", `[{"t":"ping"}]]`, codec.ErrMalformed},
		{"missing colon", `{"t" "ping"}`, codec.ErrMalformed},
		{"unquoted key", `{t:"ping"}`, codec.ErrMalformed},
		{"single quotes", `{'t':'ping'}`, codec.ErrMalformed},
		{"control char in string", "{\"t\":\"ping\",\"x\":\"a\nb\"}", codec.ErrMalformed},
		{"bad escape", `{"t":"ping","x":"\x"}`, codec.ErrMalformed},
		{"short unicode escape", `{"t":"ping","x":"\u12"}`, codec.ErrMalformed},
		{"bad unicode escape", `{"t":"ping","x":"\u12g4"}`, codec.ErrMalformed},
		{"bad escape after high surrogate", `{"t":"ping","x":"\ud800\u12g4"}`, codec.ErrMalformed},
		{"invalid UTF-8", "{\"t\":\"sub\",\"c\":\"\xff\"}", codec.ErrMalformed},
		{"invalid UTF-8 in unknown key", "{\"t\":\"sub\",\"\xff\":1}", codec.ErrMalformed},
		{"bad unknown number", `{"t":"ping","x":-}`, codec.ErrMalformed},
		{"bad unknown number fraction", `{"t":"ping","x":1.}`, codec.ErrMalformed},
		{"bad unknown number exponent", `{"t":"ping","x":1e}`, codec.ErrMalformed},
		{"bad unknown literal", `{"t":"ping","x":nul}`, codec.ErrMalformed},
		{"bad unknown object", `{"t":"ping","x":{1:2}}`, codec.ErrMalformed},
		{"unknown value nested too deep", `{"t":"ping","x":` + deep + `}`, codec.ErrMalformed},
		{"bad null", `{"t":"ping","a":nulll}`, codec.ErrMalformed},
		{"truncated true", `{"t":"hello","r":tru`, codec.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := []codec.Frame{{Type: codec.TypeAck, Ack: 1}}
			out, err := codec.JSON{}.Decode(dst, []byte(tc.msg))
			require.ErrorIs(t, err, tc.want)
			var de *codec.DecodeError
			require.ErrorAs(t, err, &de)
			require.Equal(t, "json", de.Codec)
			require.Equal(t, dst, out)
			if tc.want == codec.ErrUnknownType {
				require.NotErrorIs(t, err, codec.ErrMalformed)
			}
		})
	}
}

func TestJSONDecodeDepthLimitIsForUnknownValuesOnly(t *testing.T) {
	ok := `{"t":"ping","x":` + strings.Repeat(`[`, 31) + strings.Repeat(`]`, 31) + `}`
	_, err := codec.JSON{}.Decode(nil, []byte(ok))
	require.NoError(t, err)
}
