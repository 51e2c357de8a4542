package main

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/realtimekit/realtime"
)

func TestLineRef(t *testing.T) {
	for _, c := range []struct {
		n    int
		line string
		want string
	}{
		{1, "", `line 1 ""`},
		{2, "exactly twenty runes", `line 2 "exactly twenty runes"`},
		{3, "twenty-one runes here", `line 3 "twenty-one runes her"... (21 bytes)`},
		{4, strings.Repeat("é", 25), `line 4 "` + strings.Repeat("é", 20) + `"... (50 bytes)`},
		{5, "bad \xff byte", `line 5 "bad \xff byte"`},
		{6, "tab\there", `line 6 "tab\there"`},
	} {
		if got := lineRef(c.n, c.line); got != c.want {
			t.Errorf("lineRef(%d, %q) = %s, want %s", c.n, c.line, got, c.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	if got := printable("not allowed"); got != "not allowed" {
		t.Errorf("printable kept nothing as is: %s", got)
	}
	if got := printable("evil\x1b[2J"); got != `"evil\x1b[2J"` {
		t.Errorf("printable let a control sequence through: %s", got)
	}
}

// Whatever the payload, formatMessage prints one line of valid UTF-8 with
// no control characters, from which the payload can be recovered; and a
// line's reference stays short.
func FuzzFormat(f *testing.F) {
	for _, s := range []string{"", "hello", "héllo", "a\nb", "\x1b[2J", "\xde\xad\xbe\xef", "\u202e", "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := formatMessage(realtime.Message{Channel: "c", Seq: 9, Data: data}, true)
		body, ok := strings.CutSuffix(out, "\n")
		if !ok || !utf8.ValidString(body) || !graphic([]byte(body)) {
			t.Fatalf("not one clean line: %q", out)
		}
		var back []byte
		switch {
		case strings.HasPrefix(body, "< c #9: "):
			back = []byte(strings.TrimPrefix(body, "< c #9: "))
		case strings.HasPrefix(body, "< c #9 (quoted): "):
			s, err := strconv.Unquote(strings.TrimPrefix(body, "< c #9 (quoted): "))
			if err != nil {
				t.Fatalf("%q: %v", body, err)
			}
			back = []byte(s)
		case strings.HasPrefix(body, "< c #9 (base64, "):
			_, enc, _ := strings.Cut(body, "): ")
			var err error
			if back, err = base64.StdEncoding.DecodeString(enc); err != nil {
				t.Fatalf("%q: %v", body, err)
			}
		case body == "< c #9 (empty)":
		default:
			t.Fatalf("unexpected form: %q", body)
		}
		if string(back) != string(data) {
			t.Fatalf("%q printed as %q", data, body)
		}
		ref := lineRef(1, string(data))
		if !graphic([]byte(ref)) || len(ref) > 300 {
			t.Fatalf("lineRef: %q", ref)
		}
	})
}
