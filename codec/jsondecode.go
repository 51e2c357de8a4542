package codec

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
)

// maxJSONDepth bounds the nesting of the values of unknown keys, which the
// decoder skips recursively: deeper input could otherwise exhaust the stack.
const maxJSONDepth = 32

// Decode appends to dst the frames of one JSON message. A message must be
// UTF-8; keys are matched exactly (case-sensitively) after unescaping; a
// known key may appear once; null stands for a missing field; unknown keys
// are skipped whatever their value. See [Codec] for the errors.
func (j JSON) Decode(dst []Frame, msg []byte) ([]Frame, error) {
	if limit := limitOf(j.MaxSize); len(msg) > limit {
		return dst, &SizeError{Size: len(msg), Limit: limit}
	}
	n := len(dst)
	d := jsonDecoder{msg: msg}
	out, err := d.message(dst)
	if err != nil {
		// Frames already decoded into dst's spare capacity would keep
		// their strings and payloads reachable.
		clear(out[n:])
		return dst[:n], err
	}
	return out, nil
}

// jsonDecoder parses one message. It returns views into msg where it can
// and copies only what ends up in a Frame.
type jsonDecoder struct {
	msg     []byte
	pos     int
	depth   int
	scratch []byte // unescaped string contents, reused
}

func (d *jsonDecoder) fail(format string, args ...any) *DecodeError {
	return malformed("json", "offset %d: %s", d.pos, fmt.Sprintf(format, args...))
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.msg) {
		switch d.msg[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next byte that is not whitespace, or 0 at the end.
func (d *jsonDecoder) peek() byte {
	d.skipSpace()
	if d.pos < len(d.msg) {
		return d.msg[d.pos]
	}
	return 0
}

func (d *jsonDecoder) message(dst []Frame) ([]Frame, error) {
	switch d.peek() {
	case '{':
		var err error
		if dst, err = d.frame(dst); err != nil {
			return dst, err
		}
	case '[':
		d.pos++
		if d.peek() == ']' {
			return dst, d.fail("empty batch")
		}
		for n := 0; ; n++ {
			if n == MaxBatchFrames {
				return dst, d.fail("batch of more than %d frames", MaxBatchFrames)
			}
			if d.peek() != '{' {
				return dst, d.fail("batch element is not an object")
			}
			var err error
			if dst, err = d.frame(dst); err != nil {
				return dst, err
			}
			c := d.peek()
			d.pos++
			if c == ']' {
				break
			}
			if c != ',' {
				d.pos--
				return dst, d.fail("expected ',' or ']' in batch")
			}
		}
	default:
		return dst, d.fail("message is not an object or an array")
	}
	if d.skipSpace(); d.pos != len(d.msg) {
		return dst, d.fail("data after the message")
	}
	return dst, nil
}

// Bits recording which known keys a frame has held, to refuse duplicates:
// with duplicates, two parsers could disagree on what a frame says.
const (
	keyT = 1 << iota
	keyV
	keyS
	keyA
	keyC
	keyD
	keyB
	keySid
	keyTok
	keyHb
	keyR
	keyCode
	keyReason
	keyRef
	keyInb
	keyTs
	keyFrom
	keyH
)

// frame decodes the object at d.pos into a new frame appended to dst.
func (d *jsonDecoder) frame(dst []Frame) ([]Frame, error) {
	dst = append(dst, Frame{})
	f := &dst[len(dst)-1]
	d.pos++ // '{'
	var seen, present uint
	if d.peek() == '}' {
		d.pos++
		return dst, d.fail("frame has no type")
	}
	for {
		if d.peek() != '"' {
			return dst, d.fail("expected a key")
		}
		key, err := d.unescaped(d.str())
		if err != nil {
			return dst, err
		}
		bit := jsonKeyBit(key)
		if seen&bit != 0 {
			return dst, d.fail("duplicate key %q", key)
		}
		seen |= bit
		if d.peek() != ':' {
			return dst, d.fail("expected ':'")
		}
		d.pos++
		if d.peek() == 'n' && bit != 0 {
			if err := d.literal("null"); err != nil {
				return dst, err
			}
		} else {
			present |= bit
			switch bit {
			case keyT:
				var name []byte
				if name, err = d.unescaped(d.strValue()); err == nil {
					if len(name) == 0 {
						err = d.fail("empty type")
					} else if f.Type = lookupType(name); f.Type == 0 {
						err = unknownType("json", name)
					}
				}
			case keyV:
				var v uint64
				v, err = d.uint(math.MaxUint8)
				f.Version = uint8(v)
			case keyS:
				f.Seq, err = d.uint(math.MaxUint64)
			case keyA:
				f.Ack, err = d.uint(math.MaxUint64)
			case keyC:
				f.Channel, err = d.text()
			case keyD:
				f.Data, err = d.data()
			case keyB:
				f.Data, err = d.base64()
			case keySid:
				f.Session, err = d.text()
			case keyTok:
				f.Token, err = d.text()
			case keyHb:
				var v uint64
				v, err = d.uint(math.MaxUint32)
				f.Heartbeat = uint32(v)
			case keyR:
				f.Resumed, err = d.bool()
			case keyInb:
				f.InboxBytes, err = d.uint(math.MaxUint64)
			case keyCode:
				var v uint64
				v, err = d.uint(math.MaxUint16)
				f.Code = uint16(v)
			case keyReason:
				f.Reason, err = d.text()
			case keyRef:
				f.Ref, err = d.uint(math.MaxUint64)
			case keyTs:
				f.Time, err = d.uint(math.MaxUint64)
			case keyFrom:
				f.From, err = d.text()
			case keyH:
				f.Header, err = d.header()
			default:
				err = d.skipValue()
			}
			if err != nil {
				return dst, err
			}
		}
		c := d.peek()
		d.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			d.pos--
			return dst, d.fail("expected ',' or '}'")
		}
	}
	if present&(keyD|keyB) == keyD|keyB {
		return dst, d.fail("frame has both d and b")
	}
	if f.Type == 0 {
		return dst, d.fail("frame has no type")
	}
	return dst, nil
}

func jsonKeyBit(key []byte) uint {
	switch string(key) {
	case "t":
		return keyT
	case "v":
		return keyV
	case "s":
		return keyS
	case "a":
		return keyA
	case "c":
		return keyC
	case "d":
		return keyD
	case "b":
		return keyB
	case "sid":
		return keySid
	case "tok":
		return keyTok
	case "hb":
		return keyHb
	case "r":
		return keyR
	case "code":
		return keyCode
	case "reason":
		return keyReason
	case "ref":
		return keyRef
	case "inb":
		return keyInb
	case "ts":
		return keyTs
	case "from":
		return keyFrom
	case "h":
		return keyH
	}
	return 0
}

// uint parses a non-negative integer no greater than maxValue. A fraction
// or an exponent is refused even when the value is whole: the protocol's
// numbers are integers, and accepting 1e3 would only invite disagreement.
func (d *jsonDecoder) uint(maxValue uint64) (uint64, error) {
	start := d.pos
	var v uint64
	for d.pos < len(d.msg) {
		c := d.msg[d.pos]
		if c < '0' || c > '9' {
			break
		}
		if d.pos > start && v == 0 {
			return 0, d.fail("number with a leading zero")
		}
		digit := uint64(c - '0')
		if v > (maxValue-digit)/10 {
			return 0, d.fail("number out of range")
		}
		v = v*10 + digit
		d.pos++
	}
	if d.pos == start {
		if d.pos < len(d.msg) && d.msg[d.pos] == '-' {
			return 0, d.fail("negative number")
		}
		return 0, d.fail("expected a number")
	}
	if d.pos < len(d.msg) {
		switch d.msg[d.pos] {
		case '.', 'e', 'E':
			return 0, d.fail("number is not an integer")
		}
	}
	return v, nil
}

func (d *jsonDecoder) bool() (bool, error) {
	if d.pos < len(d.msg) && d.msg[d.pos] == 't' {
		return true, d.literal("true")
	}
	if d.pos < len(d.msg) && d.msg[d.pos] == 'f' {
		return false, d.literal("false")
	}
	return false, d.fail("expected true or false")
}

func (d *jsonDecoder) literal(word string) error {
	if !bytes.HasPrefix(d.msg[d.pos:], []byte(word)) {
		return d.fail("expected %s", word)
	}
	d.pos += len(word)
	return nil
}

// strValue checks a value that must be a string; see str.
func (d *jsonDecoder) strValue() (raw []byte, escaped bool, err error) {
	if d.pos >= len(d.msg) || d.msg[d.pos] != '"' {
		return nil, false, d.fail("expected a string")
	}
	return d.str()
}

// unescaped returns the contents of a string that str or strValue checked:
// raw itself when it has no escapes, otherwise a view into d.scratch, valid
// until the next call.
func (d *jsonDecoder) unescaped(raw []byte, escaped bool, err error) ([]byte, error) {
	if err != nil || !escaped {
		return raw, err
	}
	d.scratch = unescape(d.scratch[:0], raw)
	return d.scratch, nil
}

func (d *jsonDecoder) text() (string, error) {
	s, err := d.unescaped(d.strValue())
	return string(s), err
}

// data returns a copy of the payload in a "d" string, allocated once.
func (d *jsonDecoder) data() ([]byte, error) {
	raw, escaped, err := d.strValue()
	if err != nil || len(raw) == 0 {
		return nil, err
	}
	if !escaped {
		return bytes.Clone(raw), nil
	}
	return unescape(make([]byte, 0, len(raw)), raw), nil
}

func (d *jsonDecoder) base64() ([]byte, error) {
	s, err := d.unescaped(d.strValue())
	if err != nil || len(s) == 0 {
		return nil, err
	}
	// The standard decoder skips line breaks; the protocol has none.
	if bytes.ContainsAny(s, "\r\n") {
		return nil, d.fail("line break in base64")
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(b, s)
	if err != nil {
		return nil, d.fail("invalid base64: %v", err)
	}
	return b[:n], nil
}

// header decodes the object of "h": text keys, each once, to text values.
// An empty object decodes as nil, as an absent one does.
func (d *jsonDecoder) header() (map[string]string, error) {
	if d.pos >= len(d.msg) || d.msg[d.pos] != '{' {
		return nil, d.fail("header is not an object")
	}
	d.pos++
	if d.peek() == '}' {
		d.pos++
		return nil, nil
	}
	h := make(map[string]string)
	for {
		if len(h) == MaxHeaderEntries {
			return nil, d.fail("more than %d header entries", MaxHeaderEntries)
		}
		if d.peek() != '"' {
			return nil, d.fail("expected a header key")
		}
		k, err := d.text()
		if err != nil {
			return nil, err
		}
		if _, dup := h[k]; dup {
			return nil, d.fail("duplicate header key")
		}
		if d.peek() != ':' {
			return nil, d.fail("expected ':'")
		}
		d.pos++
		d.skipSpace()
		v, err := d.text()
		if err != nil {
			return nil, err
		}
		h[k] = v
		c := d.peek()
		d.pos++
		if c == '}' {
			return h, nil
		}
		if c != ',' {
			d.pos--
			return nil, d.fail("expected ',' or '}' in header")
		}
	}
}
