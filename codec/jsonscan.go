package codec

import (
	"unicode/utf16"
	"unicode/utf8"
)

// The lexical half of the JSON decoder: strings, escapes, and the values of
// unknown keys, which are checked for well-formedness and then dropped.

// skipValue skips any JSON value, checking that it is well formed.
func (d *jsonDecoder) skipValue() error {
	switch c := d.peek(); {
	case c == '"':
		_, _, err := d.str()
		return err
	case c == '{' || c == '[':
		return d.skipContainer(c)
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return d.skipNumber()
	}
	return d.fail("expected a value")
}

func (d *jsonDecoder) skipContainer(open byte) error {
	if d.depth++; d.depth > maxJSONDepth {
		return d.fail("nested too deeply")
	}
	defer func() { d.depth-- }()
	closer := byte('}')
	if open == '[' {
		closer = ']'
	}
	d.pos++
	if d.peek() == closer {
		d.pos++
		return nil
	}
	for {
		if open == '{' {
			if d.peek() != '"' {
				return d.fail("expected a key")
			}
			if _, _, err := d.str(); err != nil {
				return err
			}
			if d.peek() != ':' {
				return d.fail("expected ':'")
			}
			d.pos++
		}
		if err := d.skipValue(); err != nil {
			return err
		}
		c := d.peek()
		d.pos++
		if c == closer {
			return nil
		}
		if c != ',' {
			d.pos--
			return d.fail("expected ',' or %q", closer)
		}
	}
}

// skipNumber skips a number as RFC 8259 spells it.
func (d *jsonDecoder) skipNumber() error {
	digits := func() int {
		start := d.pos
		for d.pos < len(d.msg) && d.msg[d.pos] >= '0' && d.msg[d.pos] <= '9' {
			d.pos++
		}
		return d.pos - start
	}
	if d.msg[d.pos] == '-' {
		d.pos++
	}
	if d.pos < len(d.msg) && d.msg[d.pos] == '0' {
		d.pos++
	} else if digits() == 0 {
		return d.fail("invalid number")
	}
	if d.pos < len(d.msg) && d.msg[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return d.fail("invalid number")
		}
	}
	if d.pos < len(d.msg) && (d.msg[d.pos] == 'e' || d.msg[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.msg) && (d.msg[d.pos] == '+' || d.msg[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return d.fail("invalid number")
		}
	}
	return nil
}

// jsonStringStop[c] is true for the bytes that end a run of plain string
// contents: the closing quote, a backslash, or a control character, which
// JSON forbids raw.
var jsonStringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// str checks the string starting at d.pos and returns its raw contents, a
// view into msg between the quotes, and whether they hold escapes. It
// copies nothing: callers unescape only what they keep, into a buffer
// sized from the raw length.
func (d *jsonDecoder) str() (raw []byte, escaped bool, err error) {
	d.pos++ // '"'
	start := d.pos
	for {
		for d.pos+8 <= len(d.msg) && noStringStop8(load64(d.msg, d.pos)) {
			d.pos += 8
		}
		for d.pos < len(d.msg) && !jsonStringStop[d.msg[d.pos]] {
			d.pos++
		}
		if d.pos >= len(d.msg) {
			return nil, false, d.fail("unterminated string")
		}
		switch d.msg[d.pos] {
		case '"':
			raw = d.msg[start:d.pos]
			if !utf8.Valid(raw) {
				return nil, false, d.fail("invalid UTF-8 in string")
			}
			d.pos++
			return raw, escaped, nil
		case '\\':
			escaped = true
			if err := d.checkEscape(); err != nil {
				return nil, false, err
			}
		default:
			return nil, false, d.fail("control character in string")
		}
	}
}

// checkEscape checks the escape sequence at d.pos and skips it.
func (d *jsonDecoder) checkEscape() error {
	if d.pos+1 >= len(d.msg) {
		return d.fail("unterminated string")
	}
	switch d.msg[d.pos+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		d.pos += 2
		return nil
	case 'u':
		if d.pos+6 <= len(d.msg) && isHex4(d.msg[d.pos+2:d.pos+6]) {
			d.pos += 6
			return nil
		}
		return d.fail("invalid \\u escape")
	}
	return d.fail("invalid escape")
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// hex4 returns the value of four hex digits that isHex4 accepted.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unescape appends to dst the contents of raw, a string body that str has
// checked. The result is never longer than raw. An unpaired UTF-16
// surrogate becomes U+FFFD, as in encoding/json, rather than failing text
// that a JavaScript peer can produce.
func unescape(dst, raw []byte) []byte {
	start := 0
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			i++
			continue
		}
		dst = append(dst, raw[start:i]...)
		c := raw[i+1]
		i += 2
		switch c {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'u':
			r := hex4(raw[i:])
			i += 4
			if utf16.IsSurrogate(r) {
				lo := rune(-1)
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					lo = hex4(raw[i+2:])
				}
				if r = utf16.DecodeRune(r, lo); r != utf8.RuneError {
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r)
			start = i
			continue
		}
		dst = append(dst, c)
		start = i
	}
	return append(dst, raw[start:]...)
}
