// Package batch implements the batch body of PROTOCOL.md section 7.4, in
// which the HTTP transports (SSE and long polling) carry several messages
// in one request or response.
//
// A batch body is zero or more messages, each written as its length in
// ASCII decimal (no leading zeros, at most 10 digits), a colon, and the
// message bytes:
//
//	14:{"t":"ping"}19:{"t":"ack","a":42}
package batch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/realtimekit/realtime/transport"
)

// ContentType is the media type of a batch body.
const ContentType = "application/vnd.realtime.batch"

// maxDigits is the longest length prefix the format allows.
const maxDigits = 10

// ErrMalformed is matched, under errors.Is, by every *SyntaxError.
var ErrMalformed = errors.New("batch: malformed body")

// The causes a *SyntaxError carries in its Err field.
var (
	// ErrLength: a length prefix with no digits, a non-digit in it, or no
	// colon after it.
	ErrLength = errors.New("batch: malformed length")
	// ErrLeadingZero: a length prefix such as "012".
	ErrLeadingZero = errors.New("batch: length has a leading zero")
	// ErrLengthDigits: a length prefix of more than 10 digits.
	ErrLengthDigits = errors.New("batch: length has more than 10 digits")
	// ErrTruncated: the body ends inside a length prefix or a message. It
	// wraps io.ErrUnexpectedEOF.
	ErrTruncated = fmt.Errorf("batch: body truncated: %w", io.ErrUnexpectedEOF)
)

// SyntaxError reports a body that does not follow the batch format.
type SyntaxError struct {
	Offset int64 // where in the body the bad length or message starts
	Err    error // ErrLength, ErrLeadingZero, ErrLengthDigits or ErrTruncated
}

// Error returns the cause and where it is.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%v at byte %d", e.Err, e.Offset)
}

// Unwrap returns the cause and ErrMalformed, so errors.Is matches both.
func (e *SyntaxError) Unwrap() []error { return []error{e.Err, ErrMalformed} }

// Append appends msg to dst as one batch entry and returns the extended
// slice.
func Append(dst, msg []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(msg)), 10)
	dst = append(dst, ':')
	return append(dst, msg...)
}

// Size returns how many bytes Append adds for a message of n bytes.
func Size(n int) int {
	d := 1
	for m := n; m >= 10; m /= 10 {
		d++
	}
	return d + 1 + n
}

// limitOrDefault keeps a careless zero from meaning "no limit": a
// 10-digit length prefix could otherwise make a reader allocate 10 GB.
func limitOrDefault(limit int64) int64 {
	if limit <= 0 {
		return transport.DefaultReadLimit
	}
	return min(limit, math.MaxInt)
}

// Split returns the messages of a whole batch body. The messages alias
// body. A message longer than limit fails with a *transport.TooLargeError
// before anything else is checked; limit <= 0 means
// transport.DefaultReadLimit. On error Split also returns the messages
// read before the bad one.
func Split(body []byte, limit int64) ([][]byte, error) {
	limit = limitOrDefault(limit)
	var msgs [][]byte
	off := 0
	for off < len(body) {
		n, used, err := parseLength(body[off:], limit)
		if err != nil {
			if se, ok := err.(*SyntaxError); ok {
				se.Offset += int64(off)
			}
			return msgs, err
		}
		start := off + used
		if int64(len(body)-start) < n {
			return msgs, &SyntaxError{Offset: int64(off), Err: ErrTruncated}
		}
		msgs = append(msgs, body[start:start+int(n)])
		off = start + int(n)
	}
	return msgs, nil
}

// parseLength reads a length prefix and its colon from the start of b. It
// returns the length and the bytes used. A prefix cut short by the end of
// b is ErrTruncated.
func parseLength(b []byte, limit int64) (n int64, used int, err error) {
	for i, c := range b {
		switch {
		case c == ':':
			if i == 0 {
				return 0, 0, &SyntaxError{Err: ErrLength}
			}
			if n > limit {
				return 0, 0, &transport.TooLargeError{Limit: limit}
			}
			return n, i + 1, nil
		case c < '0' || c > '9':
			return 0, 0, &SyntaxError{Err: ErrLength}
		case i == maxDigits:
			return 0, 0, &SyntaxError{Err: ErrLengthDigits}
		case i == 1 && n == 0:
			return 0, 0, &SyntaxError{Err: ErrLeadingZero}
		}
		n = n*10 + int64(c-'0')
	}
	return 0, 0, &SyntaxError{Err: ErrTruncated}
}

// Reader reads the messages of a batch body from a stream, so that a body
// is never held in memory beyond one message.
type Reader struct {
	r     *bufio.Reader
	limit int64
	off   int64
	err   error
}

// NewReader returns a Reader of the batch body r whose messages may each be
// at most limit bytes; limit <= 0 means transport.DefaultReadLimit.
func NewReader(r io.Reader, limit int64) *Reader {
	return &Reader{r: bufio.NewReader(r), limit: limitOrDefault(limit)}
}

// Next returns the next message, in a new slice the caller owns. At the
// clean end of the body it returns io.EOF. A message over the limit is a
// *transport.TooLargeError, found before the message is read; a format
// error is a *SyntaxError; an error of the underlying reader is returned
// as is. Every error is final: later calls return it again.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	msg, err := r.next()
	if err != nil {
		if se, ok := err.(*SyntaxError); ok {
			se.Offset = r.off
		}
		r.err = err
		return nil, err
	}
	return msg, nil
}

func (r *Reader) next() ([]byte, error) {
	// The longest prefix is 10 digits and a colon; Peek returns what it
	// has when the body ends sooner, and parseLength says truncated when
	// that is not enough.
	b, err := r.r.Peek(maxDigits + 1)
	if len(b) == 0 {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, err
	}
	n, used, perr := parseLength(b, r.limit)
	if perr != nil {
		if errors.Is(perr, ErrTruncated) && err != nil && err != io.EOF {
			return nil, err
		}
		return nil, perr
	}
	_, _ = r.r.Discard(used)
	msg := make([]byte, n)
	if _, err := io.ReadFull(r.r, msg); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, &SyntaxError{Err: ErrTruncated}
		}
		return nil, err
	}
	r.off += int64(used) + n
	return msg, nil
}
