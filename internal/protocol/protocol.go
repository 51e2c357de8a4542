// Package protocol is the one home of the rules client and server share
// (docs/PROTOCOL.md): the window, the channel rule, the size limits, the
// codecs by name, the bounds of hello, and the encoded size of a frame.
// Both sides import it, so the rules cannot drift apart.
package protocol

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/realtimekit/realtime/codec"
)

// Window is the most sequenced frames a peer may have outstanding towards
// the other without an acknowledgement (docs/PROTOCOL.md section 5).
const Window = 1024

// MaxChannel is the longest channel name, in bytes.
const MaxChannel = 255

// DefaultMaxMessage is the size limit of one encoded message when none is
// configured: 1 MiB.
const DefaultMaxMessage = codec.DefaultMaxSize

// MaxBatchFrames is the most frames one message may hold.
const MaxBatchFrames = codec.MaxBatchFrames

// ErrChannel is wrapped by every error CheckChannel returns.
var ErrChannel = errors.New("invalid channel name")

// CheckChannel returns nil when name is a valid channel name: 1 to
// MaxChannel bytes of UTF-8 with no control character (C0, DEL or C1,
// as unicode.IsControl says). Otherwise the error wraps ErrChannel. The
// name is not quoted in the error: it may be the peer's and large.
func CheckChannel(name string) error {
	if len(name) == 0 || len(name) > MaxChannel {
		return fmt.Errorf("%w: %d bytes, want 1 to %d", ErrChannel, len(name), MaxChannel)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: not valid UTF-8", ErrChannel)
	}
	for i, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: control character U+%04X at byte %d", ErrChannel, r, i)
		}
	}
	return nil
}
