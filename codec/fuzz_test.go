package codec_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime/codec"
)

// A re-encoded message may be longer than the one decoded (a "b" payload
// can come back as an escaped "d"), so re-encoding gets room to spare.
const fuzzReencodeLimit = 1 << 30

// checkDecodeError asserts that a failed Decode failed the documented way.
func checkDecodeError(t *testing.T, err error, dst, out []codec.Frame) {
	t.Helper()
	require.Equal(t, dst, out, "dst must come back unchanged")
	var se *codec.SizeError
	if errors.As(err, &se) {
		return
	}
	var de *codec.DecodeError
	require.ErrorAs(t, err, &de)
	require.True(t, errors.Is(err, codec.ErrMalformed) != errors.Is(err, codec.ErrUnknownType),
		"exactly one of ErrMalformed and ErrUnknownType: %v", err)
}

// checkStable asserts that frames decoded from some message encode again
// and decode to the same frames.
func checkStable(t *testing.T, c codec.Codec, frames []codec.Frame) {
	t.Helper()
	require.NotEmpty(t, frames)
	msg, err := c.Encode(nil, frames...)
	require.NoError(t, err)
	again, err := c.Decode(nil, msg)
	require.NoError(t, err, "re-encoded: %q", msg)
	require.Equal(t, frames, again)
}

func FuzzJSONDecode(f *testing.F) {
	for _, tc := range jsonWire {
		f.Add([]byte(tc.wire))
	}
	for _, s := range []string{
		``, `[]`, `[[]]`, `{}`, `null`, `{"t":"ping"}x`, `{"t":"ping"} `,
		`{"t":"pub","s":18446744073709551615,"c":"\u00e9\ud83d\ude00","d":"\ud800"}`,
		`{"t":"pub","s":18446744073709551616}`, `{"t":"pub","s":-0}`, `{"t":"pub","s":1e2}`,
		`{"t":"msg","b":"AAEC/w==","x":[{"y":[1,2.5e-3,true,false,null,"z"]}]}`,
		`{"t":"msg","b":"AAEC/w==","d":""}`, `{"t":"ping","t":"ping"}`, `{"\u0074":"ping"}`,
		`{"t":"hello","hb":4294967296}`, `{"t":"error","code":65535,"reason":"\u2028"}`,
		`[{"t":"ping"},{"t":"unknown"}]`, "{\"t\":\"sub\",\"c\":\"\xff\"}", `{"t":"sub","c":null}`,
		`{"t":"ping","x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
		`{"t":"msg","s":1,"c":"c","d":"x","ts":1700000000000,"from":"ada","h":{"traceparent":"00-ab-cd-01","\u00e9":"\n"}}`,
		`{"t":"pub","s":1,"c":"c","h":{"a":"1","a":"2"}}`, `{"t":"pub","h":{}}`, `{"t":"pub","h":{"a":null}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		c := codec.JSON{MaxSize: 4096}
		dst := []codec.Frame{{Type: codec.TypePing}}
		out, err := c.Decode(dst, msg)
		if err != nil {
			checkDecodeError(t, err, dst, out)
			return
		}
		// Whatever the decoder accepts is JSON, and encoding/json reads
		// the same values from it.
		require.True(t, json.Valid(msg), "accepted invalid JSON %q", msg)
		require.Equal(t, dst[0], out[0])
		crossCheckJSON(t, msg, out[1:])
		checkStable(t, codec.JSON{MaxSize: fuzzReencodeLimit}, out[1:])
	})
}

// crossCheckJSON compares frames with what encoding/json decodes from msg.
// Known keys are unique in an accepted message, so a map reads them
// unambiguously; numbers are compared as text to keep their precision.
func crossCheckJSON(t *testing.T, msg []byte, frames []codec.Frame) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	objs, ok := v.([]any)
	if !ok {
		objs = []any{v}
	}
	require.Len(t, objs, len(frames))
	for i, o := range objs {
		m := o.(map[string]any)
		f := frames[i]
		str := func(k string) string { s, _ := m[k].(string); return s }
		num := func(k string) string {
			if n, ok := m[k].(json.Number); ok {
				return n.String()
			}
			return "0"
		}
		require.Equal(t, f.Type.String(), str("t"))
		require.Equal(t, []string{f.Channel, f.Session, f.Token, f.Reason},
			[]string{str("c"), str("sid"), str("tok"), str("reason")})
		require.Equal(t, []string{
			strconv.FormatUint(f.Seq, 10), strconv.FormatUint(f.Ack, 10), strconv.FormatUint(f.Ref, 10),
			strconv.FormatUint(uint64(f.Heartbeat), 10), strconv.FormatUint(uint64(f.Code), 10),
			strconv.FormatUint(uint64(f.Version), 10),
		}, []string{num("s"), num("a"), num("ref"), num("hb"), num("code"), num("v")})
		r, _ := m["r"].(bool)
		require.Equal(t, f.Resumed, r)
		require.Equal(t, strconv.FormatUint(f.Time, 10), num("ts"))
		require.Equal(t, f.From, str("from"))
		h, _ := m["h"].(map[string]any)
		require.Len(t, f.Header, len(h))
		for k, hv := range h {
			require.Equal(t, hv, f.Header[k])
		}
		if b := str("b"); b != "" {
			want, err := base64.StdEncoding.DecodeString(b)
			require.NoError(t, err)
			require.Equal(t, want, f.Data)
		} else {
			require.Equal(t, str("d"), string(f.Data))
		}
	}
}

func FuzzCBORDecode(f *testing.F) {
	for _, frames := range [][]codec.Frame{typicalFrames, fullFrames()} {
		msg, err := codec.CBOR{}.Encode(nil, frames...)
		require.NoError(f, err)
		f.Add(msg)
		for _, fr := range frames {
			msg, err := codec.CBOR{}.Encode(nil, fr)
			require.NoError(f, err)
			f.Add(msg)
		}
	}
	for _, v := range []any{
		map[string]any{"t": "pub", "s": -1},
		map[string]any{"t": "hello", "hb": uint64(1) << 32},
		map[string]any{"t": "msg", "d": "text", "x": []any{1, map[string]any{"y": nil}}},
		map[string]any{"t": "nope"},
		map[string]any{"t": "msg", "s": 1, "ts": uint64(1700000000000), "from": "ada", "h": map[string]string{"k": "v", "traceparent": "00-ab-cd-01"}},
		map[string]any{"t": "pub", "h": map[string]any{"k": 1}},
		[]any{map[string]any{"t": "ping"}, []any{}},
		[]any{},
		"ping",
	} {
		f.Add(mustCBOR(f, v))
	}
	for _, s := range []string{
		"9f a1 6174 6470696e67 ff", "9f ff", "9b ffffffffffffffff a0", "a1 6174 d820 6470696e67",
		"bf 6174 7f 6170 626967 ff ff", "a2 6174 6470696e67 6174 6470696e67", "ff", "",
	} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		c := codec.CBOR{MaxSize: 4096}
		dst := []codec.Frame{{Type: codec.TypePing}}
		out, err := c.Decode(dst, msg)
		if err != nil {
			checkDecodeError(t, err, dst, out)
			return
		}
		require.NoError(t, cbor.Wellformed(msg), "accepted ill-formed CBOR %x", msg)
		require.Equal(t, dst[0], out[0])
		checkStable(t, codec.CBOR{MaxSize: fuzzReencodeLimit}, out[1:])
	})
}

func addFrameSeeds(f *testing.F) {
	for _, fr := range append(fullFrames(), typicalFrames...) {
		f.Add(uint8(fr.Type), fr.Seq, fr.Ack, fr.Channel, fr.Data, fr.Session, fr.Token,
			fr.Heartbeat, fr.Resumed, fr.Code, fr.Reason, fr.Ref, fr.Version)
	}
	f.Add(uint8(0), uint64(0), uint64(0), "", []byte(nil), "", "", uint32(0), false, uint16(0), "", uint64(0), uint8(0))
	f.Add(uint8(3), uint64(1), uint64(0), "\xff", allBytes(), "\u2028", "\x00", uint32(0), false, uint16(0), "\"\\", uint64(0), uint8(0))
	f.Add(uint8(8), uint64(1), uint64(0), "c", []byte("\xe2\x80\xa8\xe2\x80"), "", "", uint32(0), false, uint16(0), "\xe2\x80\xa9", uint64(0), uint8(0))
}

func fuzzFrame(typ uint8, seq, ack uint64, channel string, data []byte, session, token string,
	hb uint32, resumed bool, code uint16, reason string, ref uint64, version uint8) codec.Frame {
	// InboxBytes takes ref's value (bit-flipped), and the metadata keys
	// take other arguments' values: more keys covered without changing
	// the seed corpus's signature.
	fr := codec.Frame{
		Type: codec.Type(typ), Seq: seq, Ack: ack, Channel: channel, Data: data,
		Session: session, Token: token, Heartbeat: hb, Resumed: resumed,
		Code: code, Reason: reason, Ref: ref, Version: version, InboxBytes: ^ref,
		Time: seq ^ ack, From: token,
	}
	if resumed || session != "" {
		fr.Header = map[string]string{session: reason, channel: token}
	}
	return fr
}

// checkEncodeRoundTrip encodes fr and decodes it back, or checks that
// Encode refused it for the right reason.
func checkEncodeRoundTrip(t *testing.T, c codec.Codec, fr codec.Frame) []byte {
	t.Helper()
	msg, err := c.Encode(nil, fr)
	switch {
	case !fr.Type.Valid():
		require.ErrorIs(t, err, codec.ErrUnknownType)
		return nil
	case !allValid(fr.Channel, fr.Session, fr.Token, fr.Reason, fr.From) || !headerValid(fr.Header):
		require.ErrorIs(t, err, codec.ErrMalformed)
		return nil
	}
	require.NoError(t, err)
	got, err := c.Decode(nil, msg)
	require.NoError(t, err, "message %q", msg)
	if len(fr.Data) == 0 {
		fr.Data = nil
	}
	if len(fr.Header) == 0 {
		fr.Header = nil
	}
	require.Equal(t, []codec.Frame{fr}, got)
	return msg
}

func headerValid(h map[string]string) bool {
	for k, v := range h {
		if !allValid(k, v) {
			return false
		}
	}
	return true
}

func allValid(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

func FuzzJSONRoundTrip(f *testing.F) {
	addFrameSeeds(f)
	f.Fuzz(func(t *testing.T, typ uint8, seq, ack uint64, channel string, data []byte, session, token string,
		hb uint32, resumed bool, code uint16, reason string, ref uint64, version uint8) {
		fr := fuzzFrame(typ, seq, ack, channel, data, session, token, hb, resumed, code, reason, ref, version)
		msg := checkEncodeRoundTrip(t, codec.JSON{MaxSize: fuzzReencodeLimit}, fr)
		if msg == nil {
			return
		}
		// Another decoder must read the same strings and payload.
		require.True(t, json.Valid(msg), "%q", msg)
		require.False(t, strings.ContainsAny(string(msg), "\u2028\u2029"), "%q", msg)
		var v struct {
			T, C, Sid, Tok, Reason, From string
			D                            *string
			B                            []byte
			Ts                           uint64
			H                            map[string]string
		}
		require.NoError(t, json.Unmarshal(msg, &v))
		require.Equal(t, []string{fr.Type.String(), fr.Channel, fr.Session, fr.Token, fr.Reason, fr.From},
			[]string{v.T, v.C, v.Sid, v.Tok, v.Reason, v.From})
		require.Equal(t, fr.Time, v.Ts)
		if len(fr.Header) == 0 {
			require.Nil(t, v.H)
		} else {
			require.Equal(t, fr.Header, v.H)
		}
		switch {
		case len(data) == 0:
			require.True(t, v.D == nil && v.B == nil)
		case utf8.Valid(data):
			require.NotNil(t, v.D)
			require.Equal(t, string(data), *v.D)
			require.Nil(t, v.B)
		default:
			require.Nil(t, v.D)
			require.Equal(t, data, v.B)
		}
	})
}

func FuzzCBORRoundTrip(f *testing.F) {
	addFrameSeeds(f)
	f.Fuzz(func(t *testing.T, typ uint8, seq, ack uint64, channel string, data []byte, session, token string,
		hb uint32, resumed bool, code uint16, reason string, ref uint64, version uint8) {
		fr := fuzzFrame(typ, seq, ack, channel, data, session, token, hb, resumed, code, reason, ref, version)
		checkEncodeRoundTrip(t, codec.CBOR{MaxSize: fuzzReencodeLimit}, fr)
	})
}
