package protocol

import (
	"errors"
	"math"

	"github.com/realtimekit/realtime/codec"
)

// Codecs are the names of the codecs the protocol defines, the default
// first.
var Codecs = [...]string{"json", "cbor"}

// Codec returns the shipped codec called name with the size limit limit
// (zero or less: DefaultMaxMessage), or nil when no codec has that name.
func Codec(name string, limit int) codec.Codec {
	switch name {
	case "json":
		return codec.JSON{MaxSize: limit}
	case "cbor":
		return codec.CBOR{MaxSize: limit}
	}
	return nil
}

// Limit returns the size limit that applies to messages of c when the
// configuration says max (zero or less: DefaultMaxMessage): the smaller of
// max and the limit a shipped codec enforces by itself (its MaxSize, zero
// meaning DefaultMaxMessage). A user codec is held to max alone.
func Limit(c codec.Codec, max int) int {
	if max <= 0 {
		max = DefaultMaxMessage
	}
	own := 0
	switch c := c.(type) {
	case codec.JSON:
		own = c.MaxSize
	case *codec.JSON:
		own = c.MaxSize
	case codec.CBOR:
		own = c.MaxSize
	case *codec.CBOR:
		own = c.MaxSize
	default:
		return max
	}
	if own <= 0 {
		own = DefaultMaxMessage
	}
	return min(max, own)
}

// ErrTooLarge is wrapped by the error FitsPublish returns for a publish
// whose encoding exceeds the limit.
var ErrTooLarge = errors.New("message too large")

// FitsPublish reports whether a publish of data on channel with header h,
// encoded alone by c, stays within limit whatever its sequence number. It returns nil,
// an error wrapping ErrTooLarge, or the codec's error for a frame it
// cannot encode at all. The shipped codecs are measured only when a cheap
// bound does not already settle it; a user codec is always measured,
// since nothing else bounds what it makes of a payload.
func FitsPublish(c codec.Codec, limit int, channel string, data []byte, h map[string]string) error {
	n := len(data) + len(channel) + headerSize(h)
	// Each header entry adds quotes, a colon and a comma (JSON) or two
	// heads (CBOR); the "h" key and its braces, a few bytes more.
	extra := 96 + 18*len(h) + 8
	switch c.(type) {
	case codec.JSON, *codec.JSON:
		// JSON writes a byte as at most six ("\u0000"); keys, type and a
		// 20-digit sequence number take less than 96.
		if 6*n+extra <= limit {
			return nil
		}
		if n > limit { // its encoding is never shorter than the payload
			return ErrTooLarge
		}
	case codec.CBOR, *codec.CBOR:
		// CBOR's heads take at most 9 bytes per field.
		if n+extra <= limit {
			return nil
		}
		if n > limit {
			return ErrTooLarge
		}
	}
	f := codec.Frame{Type: codec.TypePublish, Seq: math.MaxUint64, Channel: channel, Data: data, Header: h}
	size, err := EncodedSize(c, f)
	switch {
	case errors.Is(err, codec.ErrTooLarge):
		return ErrTooLarge
	case err != nil:
		return err
	case size > limit:
		return ErrTooLarge
	}
	return nil
}

// EncodedSize returns the length of frames encoded by c as one message.
func EncodedSize(c codec.Codec, frames ...codec.Frame) (int, error) {
	b, err := c.Encode(nil, frames...)
	return len(b), err
}
