package codec

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// escapeRef is appendEscaped written the obvious way, rune by rune.
func escapeRef(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[r>>4])
			b.WriteByte(hexDigits[r&0xF])
		case r == 0x2028 || r == 0x2029:
			b.WriteString(`\u202`)
			b.WriteByte(hexDigits[r&0xF])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Every kind of byte, at every offset in and around an 8-byte word, in
// plain and in non-ASCII surroundings: the word-at-a-time scans of the
// encoder and the decoder must find exactly what a byte-at-a-time one
// does.
func TestWordScansFindEveryStop(t *testing.T) {
	specials := []string{"\"", "\\", "\n", "\x00", "\x01", "\x1f", " ", "\x7f", "é", "€", "\u2028", "\u2029", "😀", "a\"\\"}
	fillers := []string{"a", "é", "~"}
	for _, fill := range fillers {
		for _, sp := range specials {
			for n := 0; n <= 24; n++ {
				for at := 0; at <= n; at++ {
					s := strings.Repeat(fill, at) + sp + strings.Repeat(fill, n-at)
					if !utf8.ValidString(s) {
						t.Fatalf("bad test input %q", s)
					}
					want := escapeRef(s)
					if got := string(appendEscaped(nil, s)); got != want {
						t.Fatalf("appendEscaped(%q) = %q, want %q", s, got, want)
					}
					if got := string(appendEscaped(nil, []byte(s))); got != want {
						t.Fatalf("appendEscaped([]byte %q) = %q, want %q", s, got, want)
					}
					// The decoder finds the end of the string, and the escapes.
					msg := []byte(`{"t":"error","reason":"` + want + `"}`)
					frames, err := JSON{}.Decode(nil, msg)
					if err != nil || len(frames) != 1 || frames[0].Reason != s {
						t.Fatalf("decode %q: %v %+v, want reason %q", msg, err, frames, s)
					}
					// A raw control character anywhere is refused.
					if sp[0] < 0x20 {
						bad := []byte(`{"t":"error","reason":"` + s + `"}`)
						if _, err := (JSON{}).Decode(nil, bad); err == nil {
							t.Fatalf("decode %q: accepted a raw control character", bad)
						}
					}
				}
			}
		}
	}
}

func TestWordTests(t *testing.T) {
	for c := range 256 {
		for at := range 8 {
			var b [8]byte
			for i := range b {
				b[i] = 'a'
			}
			b[at] = byte(c)
			w := load64(b[:], 0)
			plain := c < 0x80 && c >= 0x20 && c != '"' && c != '\\'
			if got := plainASCII8(w); got != plain {
				t.Errorf("plainASCII8 with %#x at %d = %v, want %v", c, at, got, plain)
			}
			if got, want := noStringStop8(w), !jsonStringStop[c]; got != want {
				t.Errorf("noStringStop8 with %#x at %d = %v, want %v", c, at, got, want)
			}
		}
	}
}
