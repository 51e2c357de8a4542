package natsbroker

import (
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/realtimekit/realtime/server"
)

func TestMetaHeaders(t *testing.T) {
	in := server.Message{Time: time.UnixMilli(1700000000123), From: "a\r\nb", Header: map[string]string{"k\n": "v\r\n"}}
	h, err := putMeta(nil, &in)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		for _, v := range vs {
			for _, c := range []byte(k + v) {
				if c == '\r' || c == '\n' {
					t.Fatalf("header %q: %q holds a line break", k, v)
				}
			}
		}
	}
	var out server.Message
	if err := getMeta(h, &out); err != nil {
		t.Fatal(err)
	}
	if !out.Time.Equal(in.Time) || out.From != in.From || out.Header["k\n"] != "v\r\n" || len(out.Header) != 1 {
		t.Errorf("read back %+v, want %+v", out, in)
	}

	if h, _ := putMeta(nil, &server.Message{}); h != nil {
		t.Errorf("no metadata made headers %v", h)
	}
	var none server.Message
	if err := getMeta(nats.Header{}, &none); err != nil || !none.Time.IsZero() || none.From != "" || none.Header != nil {
		t.Errorf("no headers: %v, %+v", err, none)
	}

	bad := nats.Header{hdrTime: {"soon"}, hdrFrom: {"!!"}, hdrHeader: {b64.EncodeToString([]byte("[1]"))}}
	var m server.Message
	if err := getMeta(bad, &m); !errors.Is(err, errBadMeta) {
		t.Errorf("malformed: %v, want errBadMeta", err)
	}
	if !m.Time.IsZero() || m.From != "" || m.Header != nil {
		t.Errorf("malformed metadata set %+v", m)
	}
}

// getMeta never panics on stored headers, and whatever putMeta wrote reads
// back the same.
func FuzzMeta(f *testing.F) {
	f.Add("1700000000123", "YWRh", "eyJrIjoidiJ9", int64(1700000000123), "ada", "k", "v")
	f.Add("-1", "!", "e30", int64(0), "", "", "")
	f.Add("99999999999999999999", "", "bnVsbA", int64(-5), "\r\n", "\x00", "\u2028")
	f.Fuzz(func(t *testing.T, ts, from, h string, ms int64, id, k, v string) {
		var m server.Message
		_ = getMeta(nats.Header{hdrTime: {ts}, hdrFrom: {from}, hdrHeader: {h}}, &m)

		in := server.Message{From: id}
		if ms != 0 {
			in.Time = time.UnixMilli(ms)
		}
		if k != "" && utf8.ValidString(k) && utf8.ValidString(v) {
			in.Header = map[string]string{k: v}
		}
		hdr, err := putMeta(nil, &in)
		if err != nil {
			t.Fatal(err)
		}
		var out server.Message
		if err := getMeta(hdr, &out); err != nil {
			t.Fatal(err)
		}
		if !out.Time.Equal(in.Time) || out.From != in.From || len(out.Header) != len(in.Header) || out.Header[k] != in.Header[k] {
			t.Fatalf("read back %+v, want %+v", out, in)
		}
	})
}
