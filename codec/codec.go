// Package codec turns protocol frames into bytes and back.
//
// A transport moves messages; a message carries one frame or a batch of
// frames. Two codecs ship with the SDK: [JSON] (readable, the default) and
// [CBOR] (compact, binary). Both carry binary payloads intact and both
// refuse a message larger than their size limit with a [*SizeError].
//
// The wire format of every frame is specified in docs/PROTOCOL.md.
package codec

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Version is the protocol version this package encodes.
const Version = 1

// DefaultMaxSize is the size limit, in bytes, of one encoded message when a
// codec's MaxSize is zero: 1 MiB.
const DefaultMaxSize = 1 << 20

// Type says what a frame is. The zero Type is invalid.
type Type uint8

// Frame types. docs/PROTOCOL.md gives the fields each one uses.
const (
	TypeConnect   Type = iota + 1 // client→server: open or resume a session
	TypeHello                     // server→client: the session is open
	TypePublish                   // client→server, sequenced: a message for a channel
	TypeSubscribe                 // client→server, sequenced: start receiving a channel
	TypeUnsub                     // client→server, sequenced: stop receiving a channel
	TypeAck                       // both ways: cumulative acknowledgement of the peer's sequence numbers
	TypeNack                      // server→client, sequenced: the server refused one client frame
	TypeMessage                   // server→client, sequenced: a message delivered on a channel
	TypePing                      // both ways: heartbeat
	TypeError                     // server→client: the connection is being refused or ended
	TypeClose                     // both ways: the session ends on purpose

	maxType = TypeClose
)

var typeNames = [...]string{
	TypeConnect:   "connect",
	TypeHello:     "hello",
	TypePublish:   "pub",
	TypeSubscribe: "sub",
	TypeUnsub:     "unsub",
	TypeAck:       "ack",
	TypeNack:      "nack",
	TypeMessage:   "msg",
	TypePing:      "ping",
	TypeError:     "error",
	TypeClose:     "close",
}

// String returns the frame type's wire name, such as "pub".
func (t Type) String() string {
	if t.Valid() {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Valid reports whether t is a frame type of this protocol version.
func (t Type) Valid() bool { return t >= TypeConnect && t <= maxType }

// ParseType returns the Type whose wire name is s, or false.
func ParseType(s string) (Type, bool) {
	for i, n := range typeNames {
		if n == s && n != "" {
			return Type(i), true
		}
	}
	return 0, false
}

// Sequenced reports whether frames of this type carry a sequence number that
// the peer must acknowledge.
func (t Type) Sequenced() bool {
	switch t {
	case TypePublish, TypeSubscribe, TypeUnsub, TypeNack, TypeMessage:
		return true
	}
	return false
}

// Frame is one protocol frame. Which fields a type uses is given in
// docs/PROTOCOL.md; zero fields are not encoded, and a field missing from a
// decoded frame is zero. The zero Frame cannot be encoded: its Type is
// invalid.
//
// An empty Data is not encoded, so an empty payload decodes as nil; the
// protocol does not tell an empty payload from a missing one.
type Frame struct {
	Type      Type
	Seq       uint64 // sequence number of a sequenced frame, from 1
	Ack       uint64 // ack: highest peer sequence number processed; connect/hello: the same, for resume
	Channel   string // pub, sub, unsub, msg
	Data      []byte // pub, msg: the payload, carried intact
	Session   string // connect (to resume), hello
	Token     string // connect (to resume), hello: the resume token
	Heartbeat uint32 // hello: the heartbeat interval in milliseconds
	Resumed   bool   // hello: whether the session presented in connect was resumed
	Code      uint16 // nack, error, close: the reason code
	Reason    string // nack, error, close: a human-readable reason
	Ref       uint64 // nack: the client sequence number refused
	Version   uint8  // connect, hello: the protocol version
	// InboxBytes is connect's optional budget: the most payload bytes of
	// sequenced frames the client takes unacknowledged (zero: no budget).
	// Encoded as "inb"; a peer that does not know the key ignores it.
	InboxBytes uint64
	// Time is msg's optional server timestamp: when the server accepted
	// the publish, in Unix milliseconds (zero: none). Encoded as "ts".
	Time uint64
	// From is msg's optional publisher identity, as the server's
	// authentication named the publishing connection (empty: none).
	// Encoded as "from".
	From string
	// Header holds the optional headers of pub and msg, text to text
	// (nil: none). Encoded as "h"; an empty map is not encoded and a
	// decoded one is nil. The codecs bound only the number of entries a
	// decoded frame may hold (MaxHeaderEntries); the protocol's tighter
	// bounds are the sender's and the server's to check.
	Header map[string]string
}

// MaxHeaderEntries is the most header entries Decode accepts in one frame:
// a guard against a message of tiny entries, far above the protocol's
// bound (docs/PROTOCOL.md section 2), so that a frame over that bound still
// decodes and can be refused with a nack.
const MaxHeaderEntries = 1024

// Codec encodes frames into messages and decodes them back.
//
// Implementations are safe for concurrent use and keep no reference to the
// slices they are given or return.
type Codec interface {
	// Name is the codec's name as negotiated on the wire: "json" or "cbor".
	Name() string
	// Binary reports whether encoded messages are binary rather than UTF-8
	// text; transports that carry text only (SSE) base64 them.
	Binary() bool
	// Encode appends to dst one message holding frames (at least one) and
	// returns the extended slice. It fails with a *SizeError when the
	// message would exceed the codec's size limit, with an error wrapping
	// ErrUnknownType for a frame whose Type is not valid, and with an error
	// wrapping ErrMalformed when given no frames or a frame whose strings
	// are not valid UTF-8; then it returns dst unchanged.
	Encode(dst []byte, frames ...Frame) ([]byte, error)
	// Decode appends to dst the frames of one message and returns the
	// extended slice. It fails with a *SizeError when msg exceeds the size
	// limit and with a *DecodeError when msg is not a valid message; then it
	// returns dst unchanged.
	Decode(dst []Frame, msg []byte) ([]Frame, error)
}

// ErrMalformed is wrapped by every DecodeError for bytes that are not a
// well-formed message of the codec, and by the error Encode returns for
// frames that cannot form a valid message.
var ErrMalformed = errors.New("codec: malformed message")

// ErrUnknownType is wrapped by a DecodeError for a frame whose type this
// protocol version does not know, and by the error Encode returns for a
// frame whose Type is not valid.
var ErrUnknownType = errors.New("codec: unknown frame type")

// ErrTooLarge is wrapped by every SizeError.
var ErrTooLarge = errors.New("codec: message too large")

// DecodeError reports a message that could not be decoded. Decode returns
// it as a *DecodeError.
type DecodeError struct {
	Codec string // the codec's Name
	Err   error  // ErrMalformed or ErrUnknownType, possibly wrapping the cause
}

// Error returns the codec's name followed by the cause.
func (e *DecodeError) Error() string {
	if e.Err == nil {
		return e.Codec + ": decode error"
	}
	return e.Codec + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// SizeError reports a message over a size limit. Encode and Decode return
// it as a *SizeError.
type SizeError struct {
	Size  int // the message's size in bytes (for Encode, at least this)
	Limit int // the limit in bytes
}

// Error describes the size and the limit.
func (e *SizeError) Error() string {
	return fmt.Sprintf("codec: message of %d bytes exceeds the limit of %d", e.Size, e.Limit)
}

// Unwrap returns ErrTooLarge.
func (e *SizeError) Unwrap() error { return ErrTooLarge }

// ByName returns the codec named name ("json" or "cbor") with its default
// size limit, or nil.
func ByName(name string) Codec {
	switch name {
	case "json":
		return JSON{}
	case "cbor":
		return CBOR{}
	}
	return nil
}

// limitOf returns the size limit that a MaxSize field of maxSize enforces;
// zero and negative values fall back to the default so that the zero codec
// is usable.
func limitOf(maxSize int) int {
	if maxSize > 0 {
		return maxSize
	}
	return DefaultMaxSize
}

// checkFrame reports why f cannot be encoded, or nil. Both codecs call it
// before writing anything so that neither emits a frame a peer would
// refuse.
func checkFrame(codec string, i int, f *Frame) error {
	if !f.Type.Valid() {
		return fmt.Errorf("%s: encode frame %d: %v: %w", codec, i, f.Type, ErrUnknownType)
	}
	for _, s := range [...]struct{ name, v string }{
		{"channel", f.Channel}, {"session", f.Session}, {"token", f.Token}, {"reason", f.Reason},
	} {
		if !utf8.ValidString(s.v) {
			return fmt.Errorf("%s: encode frame %d: %s is not valid UTF-8: %w", codec, i, s.name, ErrMalformed)
		}
	}
	if f.From == "" && f.Header == nil { // the common case: no metadata
		return nil
	}
	if !utf8.ValidString(f.From) {
		return fmt.Errorf("%s: encode frame %d: from is not valid UTF-8: %w", codec, i, ErrMalformed)
	}
	if len(f.Header) > MaxHeaderEntries {
		return fmt.Errorf("%s: encode frame %d: %d header entries, over %d: %w", codec, i, len(f.Header), MaxHeaderEntries, ErrMalformed)
	}
	for k, v := range f.Header {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%s: encode frame %d: a header is not valid UTF-8: %w", codec, i, ErrMalformed)
		}
	}
	return nil
}

// errNoFrames is what Encode returns when given nothing to encode: a
// message holds at least one frame.
func errNoFrames(codec string) error {
	return fmt.Errorf("%s: encode: no frames: %w", codec, ErrMalformed)
}

// MaxBatchFrames is the most frames one message may hold
// (docs/PROTOCOL.md section 3). Encode refuses more, and Decode fails with
// a *DecodeError past it: without it, a message within the size limit but
// made of minimal frames would decode into tens of times its size.
const MaxBatchFrames = 4096

func errTooManyFrames(codec string, n int) error {
	return fmt.Errorf("%s: encode: %d frames, over %d in one message: %w", codec, n, MaxBatchFrames, ErrMalformed)
}

// lookupType is ParseType for a name that is still a byte slice; the
// comparisons do not allocate.
func lookupType(name []byte) Type {
	for i, n := range typeNames {
		if n != "" && string(name) == n {
			return Type(i)
		}
	}
	return 0
}

// unknownType builds the DecodeError for a frame of an unknown type. The
// name is cut short because it comes from the peer and may be large.
func unknownType[S string | []byte](codec string, name S) *DecodeError {
	const maxName = 32
	if len(name) > maxName {
		name = name[:maxName]
	}
	return &DecodeError{Codec: codec, Err: fmt.Errorf("%w %q", ErrUnknownType, name)}
}

// malformed builds the DecodeError for a message that is not well formed.
func malformed(codec, format string, args ...any) *DecodeError {
	return &DecodeError{Codec: codec, Err: fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))}
}
