package codec

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// CBOR is the binary codec (RFC 8949), named "cbor" on the wire. A message
// is a map with the same text keys as [JSON], or an array of maps for a
// batch; a payload is a byte string under "d".
//
// The zero CBOR is ready to use with the default size limit. A CBOR value
// holds no state and is safe for concurrent use.
type CBOR struct {
	// MaxSize is the size limit, in bytes, of one encoded message; zero
	// (or a negative value) means DefaultMaxSize.
	MaxSize int
}

var _ Codec = CBOR{}

// Name returns "cbor".
func (CBOR) Name() string { return "cbor" }

// Binary returns true: CBOR messages are binary.
func (CBOR) Binary() bool { return true }

// cborFrame is a Frame as it appears on the wire. The field order is the
// key order of the encoded map, the same as in JSON.
type cborFrame struct {
	T      string     `cbor:"t"`
	V      uint8      `cbor:"v,omitempty"`
	S      uint64     `cbor:"s,omitempty"`
	A      uint64     `cbor:"a,omitempty"`
	C      string     `cbor:"c,omitempty"`
	D      []byte     `cbor:"d,omitempty"`
	Sid    string     `cbor:"sid,omitempty"`
	Tok    string     `cbor:"tok,omitempty"`
	HB     uint32     `cbor:"hb,omitempty"`
	R      bool       `cbor:"r,omitempty"`
	Code   uint16     `cbor:"code,omitempty"`
	Reason string     `cbor:"reason,omitempty"`
	Ref    uint64     `cbor:"ref,omitempty"`
	Inb    uint64     `cbor:"inb,omitempty"`
	Ts     uint64     `cbor:"ts,omitempty"`
	From   string     `cbor:"from,omitempty"`
	H      cborHeader `cbor:"h,omitzero"`
}

// cborHeader is Frame.Header on the wire. It encodes itself so that the
// entries come in key order and a frame always encodes to the same bytes
// (the library would follow the map's random order), and decodes as a
// plain map.
type cborHeader map[string]string

// IsZero reports an empty header, which omitzero leaves out.
func (h cborHeader) IsZero() bool { return len(h) == 0 }

// MarshalCBOR encodes h as a map of text strings, in key order.
func (h cborHeader) MarshalCBOR() ([]byte, error) {
	n := 1 + 9
	for k, v := range h {
		n += len(k) + len(v) + 18
	}
	b := appendCBORHead(make([]byte, 0, n), 0xA0, uint64(len(h)))
	for _, k := range sortedKeys(h) {
		b = appendCBORHead(b, 0x60, uint64(len(k)))
		b = append(b, k...)
		b = appendCBORHead(b, 0x60, uint64(len(h[k])))
		b = append(b, h[k]...)
	}
	return b, nil
}

// Bounds on what the decoder accepts inside one frame. Frames are flat
// maps of a dozen keys; the limits only matter for the values of unknown
// keys, and keep a hostile message from costing much time to skip.
const (
	cborMaxNesting  = 16
	cborMaxElements = 4096
	cborMaxPairs    = 1024
)

type cborModes struct {
	enc cbor.UserBufferEncMode
	dec cbor.DecMode
}

var cborMode = sync.OnceValue(func() cborModes {
	enc, err := cbor.EncOptions{}.UserBufferEncMode()
	if err != nil {
		panic("codec: cbor encoding options: " + err.Error())
	}
	dec, err := cbor.DecOptions{
		// Duplicate keys would let two parsers read different frames.
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:   cborMaxNesting,
		MaxArrayElements:  cborMaxElements,
		MaxMapPairs:       cborMaxPairs,
		TagsMd:            cbor.TagsForbidden,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
		UTF8:              cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic("codec: cbor decoding options: " + err.Error())
	}
	return cborModes{enc: enc, dec: dec}
})

// Encode appends to dst one CBOR message holding frames: a map for a
// single frame, an array of maps otherwise. See [Codec] for the errors.
func (c CBOR) Encode(dst []byte, frames ...Frame) ([]byte, error) {
	out, err := c.encode(dst, frames)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (c CBOR) encode(dst []byte, frames []Frame) ([]byte, error) {
	if len(frames) == 0 {
		return nil, errNoFrames("cbor")
	}
	if len(frames) > MaxBatchFrames {
		return nil, errTooManyFrames("cbor", len(frames))
	}
	limit := limitOf(c.MaxSize)
	start := len(dst)
	if len(frames) > 1 {
		dst = appendCBORHead(dst, 0x80, uint64(len(frames)))
	}
	enc := cborMode().enc
	buf := bytes.NewBuffer(dst)
	// One wire frame, reused, so that a batch costs no more allocations
	// than a single frame.
	var w cborFrame
	for i := range frames {
		f := &frames[i]
		if err := checkFrame("cbor", i, f); err != nil {
			return nil, err
		}
		// The payload alone takes len(f.Data) bytes, so a payload that
		// cannot fit is refused before it is copied.
		if n := buf.Len() - start + len(f.Data); n > limit {
			return nil, &SizeError{Size: n, Limit: limit}
		}
		w = cborFrame{
			T: typeNames[f.Type], V: f.Version, S: f.Seq, A: f.Ack, C: f.Channel, D: f.Data,
			Sid: f.Session, Tok: f.Token, HB: f.Heartbeat, R: f.Resumed,
			Code: f.Code, Reason: f.Reason, Ref: f.Ref, Inb: f.InboxBytes,
			Ts: f.Time, From: f.From, H: f.Header,
		}
		if err := enc.MarshalToBuffer(&w, buf); err != nil {
			return nil, fmt.Errorf("cbor: encode frame %d: %w", i, err)
		}
		if n := buf.Len() - start; n > limit {
			return nil, &SizeError{Size: n, Limit: limit}
		}
	}
	return buf.Bytes(), nil
}

// appendCBORHead appends the head of a data item of the given major type
// (in the top three bits of major) and argument n.
func appendCBORHead(dst []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(dst, major|byte(n))
	case n <= 0xFF:
		return append(dst, major|24, byte(n))
	case n <= 0xFFFF:
		return append(dst, major|25, byte(n>>8), byte(n))
	case n <= 0xFFFFFFFF:
		return append(dst, major|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, major|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// Decode appends to dst the frames of one CBOR message. Keys are matched
// exactly, a key may appear once, null stands for a missing field, and
// unknown keys are skipped; tags are refused. See [Codec] for the errors.
func (c CBOR) Decode(dst []Frame, msg []byte) ([]Frame, error) {
	if limit := limitOf(c.MaxSize); len(msg) > limit {
		return dst, &SizeError{Size: len(msg), Limit: limit}
	}
	n := len(dst)
	out, err := decodeCBOR(dst, msg)
	if err != nil {
		clear(out[n:])
		return dst[:n], err
	}
	return out, nil
}

func decodeCBOR(dst []Frame, msg []byte) ([]Frame, error) {
	dec := cborMode().dec
	if len(msg) == 0 {
		return dst, malformed("cbor", "empty message")
	}
	if msg[0]>>5 == cborMap {
		var w cborFrame
		if err := dec.Unmarshal(msg, &w); err != nil {
			return dst, cborMalformed(err)
		}
		return appendCBORFrame(dst, &w)
	}
	if msg[0]>>5 != cborArray {
		return dst, malformed("cbor", "message is not a map or an array")
	}
	// The batch array is walked here rather than by the library so that
	// MaxArrayElements, meant for unknown values, does not cap the number
	// of frames (MaxBatchFrames does), and so that frames go straight
	// into dst with nothing allocated from the declared length.
	count, indefinite, rest, ok := readCBORArrayHead(msg)
	if !ok {
		return dst, malformed("cbor", "invalid array head")
	}
	var w cborFrame
	for i := uint64(0); ; i++ {
		if indefinite && len(rest) > 0 && rest[0] == 0xFF {
			rest = rest[1:]
			count = i
		}
		if i == count {
			break
		}
		if i == MaxBatchFrames {
			return dst, malformed("cbor", "batch of more than %d frames", MaxBatchFrames)
		}
		if len(rest) == 0 {
			return dst, malformed("cbor", "truncated message")
		}
		if rest[0]>>5 != cborMap {
			return dst, malformed("cbor", "batch element %d is not a map", i)
		}
		w = cborFrame{}
		var err error
		if rest, err = dec.UnmarshalFirst(rest, &w); err != nil {
			return dst, cborMalformed(err)
		}
		if dst, err = appendCBORFrame(dst, &w); err != nil {
			return dst, err
		}
	}
	if count == 0 {
		return dst, malformed("cbor", "empty batch")
	}
	if len(rest) != 0 {
		return dst, malformed("cbor", "data after the message")
	}
	return dst, nil
}

// CBOR major types, the top three bits of an item's first byte.
const (
	cborArray = 4
	cborMap   = 5
)

// readCBORArrayHead reads the head of the array that msg starts with. It
// returns the number of elements, or indefinite for an array closed by a
// break byte, and the bytes after the head; ok is false when the head
// does not fit in msg or uses a reserved argument.
func readCBORArrayHead(msg []byte) (count uint64, indefinite bool, rest []byte, ok bool) {
	info := msg[0] & 0x1F
	switch {
	case info < 24:
		return uint64(info), false, msg[1:], true
	case info == 31:
		return ^uint64(0), true, msg[1:], true
	case info > 27:
		return 0, false, nil, false
	}
	size := 1 << (info - 24)
	if len(msg) < 1+size {
		return 0, false, nil, false
	}
	for _, b := range msg[1 : 1+size] {
		count = count<<8 | uint64(b)
	}
	return count, false, msg[1+size:], true
}

func cborMalformed(err error) *DecodeError {
	return &DecodeError{Codec: "cbor", Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
}

// appendCBORFrame appends the frame w holds to dst, or fails for a type
// that is missing or unknown.
func appendCBORFrame(dst []Frame, w *cborFrame) ([]Frame, error) {
	if w.T == "" {
		return dst, malformed("cbor", "frame has no type")
	}
	t, ok := ParseType(w.T)
	if !ok {
		return dst, unknownType("cbor", w.T)
	}
	if len(w.D) == 0 {
		// Like JSON, which leaves an empty payload out, an empty byte
		// string decodes as nil.
		w.D = nil
	}
	if len(w.H) == 0 {
		w.H = nil // {} as JSON decodes it: no header
	}
	return append(dst, Frame{
		Type: t, Version: w.V, Seq: w.S, Ack: w.A, Channel: w.C, Data: w.D,
		Session: w.Sid, Token: w.Tok, Heartbeat: w.HB, Resumed: w.R,
		Code: w.Code, Reason: w.Reason, Ref: w.Ref, InboxBytes: w.Inb,
		Time: w.Ts, From: w.From, Header: w.H,
	}), nil
}
