package codec

import (
	"encoding/base64"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// JSON is the text codec, named "json" on the wire and the protocol's
// default. A message is one JSON object, or an array of objects for a
// batch. A payload travels as the string "d" when it is valid UTF-8 and as
// standard base64 in "b" otherwise.
//
// The zero JSON is ready to use with the default size limit. A JSON value
// holds no state and is safe for concurrent use.
type JSON struct {
	// MaxSize is the size limit, in bytes, of one encoded message; zero
	// (or a negative value) means DefaultMaxSize.
	MaxSize int
}

var _ Codec = JSON{}

// Name returns "json".
func (JSON) Name() string { return "json" }

// Binary returns false: JSON messages are UTF-8 text.
func (JSON) Binary() bool { return false }

// Encode appends to dst one JSON message holding frames: an object for a
// single frame, an array of objects otherwise. See [Codec] for the errors.
func (j JSON) Encode(dst []byte, frames ...Frame) ([]byte, error) {
	out, err := j.encode(dst, frames)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (j JSON) encode(dst []byte, frames []Frame) ([]byte, error) {
	if len(frames) == 0 {
		return nil, errNoFrames("json")
	}
	if len(frames) > MaxBatchFrames {
		return nil, errTooManyFrames("json", len(frames))
	}
	limit := limitOf(j.MaxSize)
	start := len(dst)
	// One allocation for the lot rather than a doubling per frame: plain
	// text takes its length plus keys; escapes and base64 may still grow
	// it. Capped by the limit, since more is never encoded.
	need := 2
	for i := range frames {
		need += len(frames[i].Data) + len(frames[i].Data)/8 + len(frames[i].Channel) + len(frames[i].Reason) + 64
		if f := &frames[i]; f.From != "" || f.Header != nil {
			need += len(f.From) + 24
			for k, v := range f.Header {
				need += len(k) + len(v) + 6
			}
		}
	}
	dst = slices.Grow(dst, min(need, limit+1))
	batch := len(frames) > 1
	if batch {
		dst = append(dst, '[')
	}
	for i := range frames {
		f := &frames[i]
		if err := checkFrame("json", i, f); err != nil {
			return nil, err
		}
		if batch && i > 0 {
			dst = append(dst, ',')
		}
		// An encoded payload is at least as long as the payload, so a
		// payload that cannot fit is refused before it is copied.
		if n := len(dst) - start + len(f.Data); n > limit {
			return nil, &SizeError{Size: n, Limit: limit}
		}
		dst = appendJSONFrame(dst, f)
		if n := len(dst) - start; n > limit {
			return nil, &SizeError{Size: n, Limit: limit}
		}
	}
	if batch {
		dst = append(dst, ']')
		if n := len(dst) - start; n > limit {
			return nil, &SizeError{Size: n, Limit: limit}
		}
	}
	return dst, nil
}

// appendJSONFrame appends f as a JSON object. The key order follows
// docs/PROTOCOL.md so that the output matches its examples byte for byte.
// f must have passed checkFrame.
func appendJSONFrame(dst []byte, f *Frame) []byte {
	dst = append(dst, `{"t":"`...)
	dst = append(dst, typeNames[f.Type]...)
	dst = append(dst, '"')
	if f.Version != 0 {
		dst = appendJSONUint(dst, `,"v":`, uint64(f.Version))
	}
	if f.Seq != 0 {
		dst = appendJSONUint(dst, `,"s":`, f.Seq)
	}
	if f.Ack != 0 {
		dst = appendJSONUint(dst, `,"a":`, f.Ack)
	}
	if f.Channel != "" {
		dst = appendJSONString(dst, `,"c":`, f.Channel)
	}
	if len(f.Data) != 0 {
		if utf8.Valid(f.Data) {
			dst = appendJSONString(dst, `,"d":`, f.Data)
		} else {
			dst = append(dst, `,"b":"`...)
			dst = base64.StdEncoding.AppendEncode(dst, f.Data)
			dst = append(dst, '"')
		}
	}
	if f.Session != "" {
		dst = appendJSONString(dst, `,"sid":`, f.Session)
	}
	if f.Token != "" {
		dst = appendJSONString(dst, `,"tok":`, f.Token)
	}
	if f.Heartbeat != 0 {
		dst = appendJSONUint(dst, `,"hb":`, uint64(f.Heartbeat))
	}
	if f.Resumed {
		dst = append(dst, `,"r":true`...)
	}
	if f.InboxBytes != 0 {
		dst = appendJSONUint(dst, `,"inb":`, f.InboxBytes)
	}
	if f.Code != 0 {
		dst = appendJSONUint(dst, `,"code":`, uint64(f.Code))
	}
	if f.Reason != "" {
		dst = appendJSONString(dst, `,"reason":`, f.Reason)
	}
	if f.Ref != 0 {
		dst = appendJSONUint(dst, `,"ref":`, f.Ref)
	}
	if f.Time != 0 {
		dst = appendJSONUint(dst, `,"ts":`, f.Time)
	}
	if f.From != "" {
		dst = appendJSONString(dst, `,"from":`, f.From)
	}
	if len(f.Header) != 0 {
		dst = appendJSONHeader(dst, f.Header)
	}
	return append(dst, '}')
}

// appendJSONHeader appends "h" with the entries in key order, so that a
// frame always encodes to the same bytes.
func appendJSONHeader(dst []byte, h map[string]string) []byte {
	dst = append(dst, `,"h":{`...)
	for i, k := range sortedKeys(h) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, "", k)
		dst = appendJSONString(dst, ":", h[k])
	}
	return append(dst, '}')
}

// sortedKeys returns h's keys in order.
func sortedKeys(h map[string]string) []string {
	return slices.Sorted(maps.Keys(h))
}

func appendJSONUint(dst []byte, key string, v uint64) []byte {
	dst = append(dst, key...)
	return strconv.AppendUint(dst, v, 10)
}

func appendJSONString[S string | []byte](dst []byte, key string, s S) []byte {
	dst = append(dst, key...)
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// jsonSafe[c] is true for a byte that can be copied into a JSON string as
// is. Bytes of multi-byte sequences are safe because the input is valid
// UTF-8, except 0xE2, which may start U+2028 or U+2029: both are legal in
// JSON but end a line in JavaScript, so a peer that evaluates or splits
// on them would break.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\' && c != 0xE2
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendEscaped appends the JSON string body of s, which must be valid
// UTF-8. Runs of safe bytes are copied in one append, and found eight
// bytes at a time while they are plain ASCII, which is what makes the
// common case of plain text cheap.
func appendEscaped[S string | []byte](dst []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plainASCII8(load64(s, i)) {
			i += 8
			continue
		}
		// At most the next 8 bytes one at a time (an escape may run past).
		for end := min(i+8, len(s)); i < end; {
			c := s[i]
			if jsonSafe[c] {
				i++
				continue
			}
			if c == 0xE2 {
				if i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xA8 {
					dst = append(dst, s[start:i]...)
					dst = append(dst, `\u202`...)
					dst = append(dst, hexDigits[s[i+2]&0xF])
					i += 3
					start = i
					continue
				}
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
		}
	}
	return append(dst, s[start:]...)
}

// Eight bytes at a time, in a uint64 (SWAR): lo has 0x01 in every byte and
// hi 0x80. The tests below are exact for "some byte is": they may misplace
// which byte, which is why a hit falls back to looking byte by byte.
const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// load64 reads 8 bytes of s from i; the byte order does not matter to the
// tests below.
func load64[S string | []byte](s S, i int) uint64 {
	b := s[i : i+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// hasZero8 is non-zero when some byte of w is 0.
func hasZero8(w uint64) uint64 { return (w - lo8) &^ w & hi8 }

// hasLess8 is non-zero when some byte of w is below n (n <= 0x80).
func hasLess8(w uint64, n byte) uint64 { return (w - lo8*uint64(n)) &^ w & hi8 }

// plainASCII8 reports whether all 8 bytes are ASCII that a JSON string
// carries as is: no control character, quote or backslash.
func plainASCII8(w uint64) bool { return w&hi8 == 0 && noStringStop8(w) }

// noStringStop8 reports whether none of the 8 bytes ends a run of plain
// JSON string contents (see jsonStringStop); bytes of UTF-8 sequences do
// not.
func noStringStop8(w uint64) bool {
	return hasLess8(w, 0x20)|hasZero8(w^(lo8*'"'))|hasZero8(w^(lo8*'\\')) == 0
}
