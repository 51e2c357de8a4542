package protocol_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/internal/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

func TestCheckChannel(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"chat", true},
		{"a/b.c-d_e:f", true},
		{"ünïcödé", true},
		{strings.Repeat("x", 255), true},
		{"", false},
		{strings.Repeat("x", 256), false},
		{"tab\there", false},
		{"del\x7f", false},
		{"c1\u0085next", false}, // C1: refused by client and server alike
		{"c1\u009f", false},
		{"bad\xffutf8", false},
	} {
		err := protocol.CheckChannel(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("CheckChannel(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, protocol.ErrChannel) {
			t.Errorf("CheckChannel(%q) = %v, not ErrChannel", tc.name, err)
		}
	}
}

func FuzzCheckChannel(f *testing.F) {
	for _, s := range []string{"chat", "", "\x00", "\u0085", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if protocol.CheckChannel(s) != nil {
			return
		}
		if len(s) == 0 || len(s) > protocol.MaxChannel || !utf8.ValidString(s) {
			t.Fatalf("accepted %q", s)
		}
		// A valid name encodes and decodes unchanged with every codec.
		for _, name := range protocol.Codecs {
			c := protocol.Codec(name, 0)
			msg, err := c.Encode(nil, codec.Frame{Type: codec.TypeSubscribe, Seq: 1, Channel: s})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			fs, err := c.Decode(nil, msg)
			if err != nil || fs[0].Channel != s {
				t.Fatalf("%s: %q -> %v, %v", name, s, fs, err)
			}
		}
	})
}

func TestCodecByName(t *testing.T) {
	for _, name := range protocol.Codecs {
		c := protocol.Codec(name, 123)
		if c == nil || c.Name() != name {
			t.Fatalf("Codec(%q) = %v", name, c)
		}
		if got := protocol.Limit(c, 1<<30); got != 123 {
			t.Errorf("Limit(%s{123}, 1 GiB) = %d", name, got)
		}
	}
	if protocol.Codec("xml", 0) != nil {
		t.Fatal("Codec(xml) not nil")
	}
}

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		c    codec.Codec
		max  int
		want int
	}{
		{codec.JSON{}, 0, 1 << 20},
		{codec.CBOR{}, 4 << 20, 1 << 20}, // the codec's own default still holds
		{codec.CBOR{MaxSize: 8 << 20}, 4 << 20, 4 << 20},
		{&codec.JSON{MaxSize: 100}, 200, 100},
		{userCodec{}, 4 << 20, 4 << 20},
		{userCodec{}, 0, 1 << 20},
	} {
		if got := protocol.Limit(tc.c, tc.max); got != tc.want {
			t.Errorf("Limit(%#v, %d) = %d, want %d", tc.c, tc.max, got, tc.want)
		}
	}
}

// userCodec is a codec of the application's: JSON that ignores every size
// limit, and says so in its name.
type userCodec struct{}

func (userCodec) Name() string { return "user" }
func (userCodec) Binary() bool { return false }
func (userCodec) Encode(dst []byte, fs ...codec.Frame) ([]byte, error) {
	return codec.JSON{MaxSize: 1 << 30}.Encode(dst, fs...)
}
func (userCodec) Decode(dst []codec.Frame, msg []byte) ([]codec.Frame, error) {
	return codec.JSON{MaxSize: 1 << 30}.Decode(dst, msg)
}

func TestFitsPublish(t *testing.T) {
	binary := make([]byte, 900<<10)
	for i := range binary {
		binary[i] = byte(i) | 0x80
	}
	text := []byte(strings.Repeat("a", 900<<10))
	for _, tc := range []struct {
		name  string
		c     codec.Codec
		limit int
		data  []byte
		fits  bool
	}{
		{"json text 900 KiB", codec.JSON{}, 1 << 20, text, true},
		{"json binary 900 KiB (base64 1.2 MiB)", codec.JSON{}, 1 << 20, binary, false},
		{"cbor binary 900 KiB", codec.CBOR{}, 1 << 20, binary, true},
		{"cbor 2 MiB", codec.CBOR{}, 1 << 20, make([]byte, 2<<20), false},
		{"user codec binary 900 KiB", userCodec{}, 1 << 20, binary, false},
		{"user codec small", userCodec{}, 1 << 20, []byte("hi"), true},
		{"json escapes", codec.JSON{}, 1000, []byte(strings.Repeat("\x01", 200)), false},
	} {
		err := protocol.FitsPublish(tc.c, tc.limit, "ch", tc.data, nil)
		if tc.fits != (err == nil) {
			t.Errorf("%s: %v, want fits %v", tc.name, err, tc.fits)
		}
		if err != nil && !errors.Is(err, protocol.ErrTooLarge) {
			t.Errorf("%s: %v, not ErrTooLarge", tc.name, err)
		}
	}
	if err := protocol.FitsPublish(userCodec{}, 1<<20, "bad\xff", nil, nil); err == nil || errors.Is(err, protocol.ErrTooLarge) {
		t.Errorf("user codec refusing the frame: %v, want the codec's error", err)
	}
}

func TestCheckHello(t *testing.T) {
	good := codec.Frame{Type: codec.TypeHello, Version: codec.Version, Session: "s", Token: "t", Heartbeat: 15000}
	if err := protocol.CheckHello(good); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*codec.Frame){
		"not hello":       func(f *codec.Frame) { f.Type = codec.TypePing },
		"no version":      func(f *codec.Frame) { f.Version = 0 },
		"unknown version": func(f *codec.Frame) { f.Version = codec.Version + 1 },
		"no session":      func(f *codec.Frame) { f.Session = "" },
		"no token":        func(f *codec.Frame) { f.Token = "" },
		"long token":      func(f *codec.Frame) { f.Token = strings.Repeat("t", 256) },
		"hb 1 ms":         func(f *codec.Frame) { f.Heartbeat = 1 },
		"hb 0":            func(f *codec.Frame) { f.Heartbeat = 0 },
		"hb 99 ms":        func(f *codec.Frame) { f.Heartbeat = 99 },
		"hb 11 min":       func(f *codec.Frame) { f.Heartbeat = 11 * 60 * 1000 },
	} {
		f := good
		mod(&f)
		if err := protocol.CheckHello(f); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	f := good
	f.Heartbeat = 100
	if err := protocol.CheckHello(f); err != nil {
		t.Errorf("hb at the floor: %v", err)
	}
}
