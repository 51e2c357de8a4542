package protocol

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxHeaders is the most entries the header of one publish may hold
// (docs/PROTOCOL.md section 2).
const MaxHeaders = 16

// MaxHeaderBytes is the most bytes the header of one publish may hold,
// keys and values together (docs/PROTOCOL.md section 2).
const MaxHeaderBytes = 4096

// CodeBadHeader is the nack code of a publish whose header is over the
// bounds or not well formed (docs/PROTOCOL.md section 8): permanent.
const CodeBadHeader = 4011

// ErrHeader is wrapped by every error CheckHeader returns.
var ErrHeader = errors.New("invalid message header")

// CheckHeader returns nil when h is a valid publish header: at most
// MaxHeaders entries of at most MaxHeaderBytes in all, keys non-empty
// without control characters, keys and values valid UTF-8. Otherwise the
// error wraps ErrHeader. No key or value is quoted in it: they may carry
// credentials, and they are the peer's.
func CheckHeader(h map[string]string) error {
	if len(h) > MaxHeaders {
		return fmt.Errorf("%w: %d entries, over %d", ErrHeader, len(h), MaxHeaders)
	}
	n := 0
	for k, v := range h {
		n += len(k) + len(v)
		if k == "" {
			return fmt.Errorf("%w: empty key", ErrHeader)
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: not valid UTF-8", ErrHeader)
		}
		for _, r := range k {
			if unicode.IsControl(r) {
				return fmt.Errorf("%w: control character in a key", ErrHeader)
			}
		}
	}
	if n > MaxHeaderBytes {
		return fmt.Errorf("%w: %d bytes, over %d", ErrHeader, n, MaxHeaderBytes)
	}
	return nil
}

// headerSize returns the bytes of h's keys and values.
func headerSize(h map[string]string) int {
	n := 0
	for k, v := range h {
		n += len(k) + len(v)
	}
	return n
}
