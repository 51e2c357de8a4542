package sse

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/realtimekit/realtime/transport"
)

// ErrTruncated is returned by [Parser.Next] when the stream ends inside an
// event: after a field line with no blank line to dispatch it, or in the
// middle of a line. It wraps io.ErrUnexpectedEOF. A stream that ends
// between events ends with io.EOF.
var ErrTruncated = fmt.Errorf("sse: event stream ends inside an event: %w", io.ErrUnexpectedEOF)

// Event is one event dispatched by a [Parser].
type Event struct {
	// Type is the value of the block's event field, "" when it had none
	// (which EventSource reports as "message").
	Type string
	// Data is the block's data field values joined by "\n". It is a valid
	// event's payload even when empty: a block with no data field at all is
	// not an event.
	Data string
	// ID is the stream's last event ID when the event was dispatched: the
	// latest id field seen, which persists across events; "" if none.
	ID string
	// Retry is the stream's reconnection time: the latest valid retry
	// field seen, 0 if none.
	Retry time.Duration
}

// Parser reads events from a text/event-stream, following the WHATWG
// EventSource rules for interpreting an event stream: lines end in CRLF,
// LF or CR; one leading byte order mark is skipped; lines starting with a
// colon are comments; a line without a colon is a field with an empty
// value; one space after the colon is dropped; a blank line dispatches the
// block, unless the block had no data field. Unlike a browser it keeps
// bytes as they are, invalid UTF-8 included.
//
// A Parser is not safe for concurrent use.
type Parser struct {
	r   *bufio.Reader
	max int

	started bool   // the byte order mark was looked for
	skipLF  bool   // the last line ended in CR: a LF right after it is part of that line end
	pending bool   // the block being read has a field line
	line    []byte // a line that did not fit in the read buffer
	data    []byte // the data buffer, each value followed by "\n"
	typ     []byte // the event type buffer
	id      string // the last event ID buffer
	lastID  string // the last event ID string, set on dispatch
	retry   time.Duration
	err     error
}

// DefaultMaxEvent is the size limit of NewParser's maxEvent <= 0.
const DefaultMaxEvent = transport.DefaultReadLimit

// NewParser returns a Parser reading r. maxEvent bounds, in bytes, both a
// single line and an event's data plus event type; the Parser buffers no
// more than that. maxEvent <= 0 means DefaultMaxEvent.
func NewParser(r io.Reader, maxEvent int) *Parser {
	if maxEvent <= 0 {
		maxEvent = DefaultMaxEvent
	}
	// 4 KiB, as net/http's own connection buffer: a larger one holds idle
	// memory on every stream without reading more per call. Longer lines
	// are assembled in p.line.
	return &Parser{r: bufio.NewReaderSize(r, 4<<10), max: maxEvent}
}

// Next returns the next event. It returns io.EOF when the stream ends
// between events and ErrTruncated when it ends inside one (the partial
// event is discarded). A line or an event over the size limit is a
// *transport.TooLargeError, reported as soon as the limit is passed; an
// error of the underlying reader is returned as is. Errors are final:
// later calls return the same error.
func (p *Parser) Next() (Event, error) {
	typ, data, err := p.next()
	if err != nil {
		return Event{}, err
	}
	return Event{Type: string(typ), Data: string(data), ID: p.lastID, Retry: p.retry}, nil
}

// next is Next without the copies: typ and data are valid until the next
// call.
func (p *Parser) next() (typ, data []byte, err error) {
	if p.err != nil {
		return nil, nil, p.err
	}
	if !p.started {
		p.started = true
		p.skipBOM()
	}
	for {
		line, err := p.readLine()
		if err != nil {
			if err == io.EOF && p.pending {
				err = ErrTruncated
			}
			p.err = err
			return nil, nil, err
		}
		if len(line) == 0 {
			if typ, data, ok := p.dispatch(); ok {
				return typ, data, nil
			}
			continue
		}
		if err := p.field(line); err != nil {
			p.err = err
			return nil, nil, err
		}
	}
}

// LastEventID returns the stream's last event ID: the one a reconnecting
// client sends as Last-Event-ID. Blocks without data set it too.
func (p *Parser) LastEventID() string { return p.lastID }

// Retry returns the reconnection time last set by the stream, 0 if none.
func (p *Parser) Retry() time.Duration { return p.retry }

var bom = []byte{0xEF, 0xBB, 0xBF}

// skipBOM peeks one byte at a time so that a stream whose first bytes are
// slow to come is not waited on for bytes that cannot be a BOM.
func (p *Parser) skipBOM() {
	for n := 1; n <= len(bom); n++ {
		b, _ := p.r.Peek(n)
		if len(b) < n || b[n-1] != bom[n-1] {
			return
		}
	}
	_, _ = p.r.Discard(len(bom))
}

// readLine returns the next line without its line end. The slice is valid
// until the next read. Lines are cut at CR without waiting for the byte
// after it, so an event ending in CR is dispatched at once; a LF that
// follows is dropped on the next read.
func (p *Parser) readLine() ([]byte, error) {
	p.line = p.line[:0]
	for {
		if p.r.Buffered() == 0 {
			if _, err := p.r.Peek(1); err != nil {
				if err == io.EOF && len(p.line) > 0 {
					p.pending = true // the line was never finished
				}
				return nil, err
			}
		}
		buf, _ := p.r.Peek(p.r.Buffered())
		if p.skipLF {
			p.skipLF = false
			if buf[0] == '\n' {
				_, _ = p.r.Discard(1)
				continue
			}
		}
		i := indexLineEnd(buf)
		if i < 0 {
			if err := p.check(len(p.line) + len(buf)); err != nil {
				return nil, err
			}
			p.line = grow(p.line, len(buf), p.max)
			p.line = append(p.line, buf...)
			_, _ = p.r.Discard(len(buf))
			continue
		}
		if err := p.check(len(p.line) + i); err != nil {
			return nil, err
		}
		p.skipLF = buf[i] == '\r'
		line := buf[:i]
		if len(p.line) > 0 {
			p.line = grow(p.line, i, p.max)
			p.line = append(p.line, line...)
			line = p.line
		}
		// Discard only moves the read position: line stays intact until
		// the next Peek refills the buffer.
		_, _ = p.r.Discard(i + 1)
		return line, nil
	}
}

// indexLineEnd is bytes.IndexAny(b, "\r\n") at IndexByte's speed: LF is
// the common line end, and CR is then looked for only before it.
func indexLineEnd(b []byte) int {
	lf := bytes.IndexByte(b, '\n')
	if lf < 0 {
		return bytes.IndexByte(b, '\r')
	}
	if cr := bytes.IndexByte(b[:lf], '\r'); cr >= 0 {
		return cr
	}
	return lf
}

func (p *Parser) check(n int) error {
	if n > p.max {
		return &transport.TooLargeError{Limit: int64(p.max)}
	}
	return nil
}

// field processes one non-blank line.
func (p *Parser) field(line []byte) error {
	if line[0] == ':' {
		return nil
	}
	p.pending = true
	name, value := line, line[:0]
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		if err := p.check(len(p.data) + len(value) + 1 + len(p.typ)); err != nil {
			return err
		}
		p.data = grow(p.data, len(value)+1, p.max)
		p.data = append(p.data, value...)
		p.data = append(p.data, '\n')
	case "event":
		if err := p.check(len(p.data) + len(value)); err != nil {
			return err
		}
		p.typ = append(p.typ[:0], value...)
	case "id":
		if bytes.IndexByte(value, 0) < 0 && string(value) != p.id {
			p.id = string(value)
		}
	case "retry":
		if ms, ok := parseRetry(value); ok {
			p.retry = ms
		}
	}
	return nil
}

// dispatch ends a block, returning its event's type and data unless it had
// no data. The views stay valid until the next field is read; a data
// buffer grown past maxKept by a large event is let go, so that one burst
// does not hold its size for the stream's life.
func (p *Parser) dispatch() (typ, data []byte, ok bool) {
	p.pending = false
	p.lastID = p.id
	if len(p.data) == 0 {
		p.typ = p.typ[:0]
		return nil, nil, false
	}
	typ, data = p.typ, p.data[:len(p.data)-1]
	p.data, p.typ = p.data[:0], p.typ[:0]
	if cap(p.data) > maxKept {
		p.data = nil
	}
	if cap(p.line) > maxKept {
		p.line = nil
	}
	return typ, data, true
}

// maxKept bounds the line and data buffers a Parser keeps between events.
const maxKept = 64 << 10

// parseRetry accepts ASCII digits only, as the spec says; a value too
// large for a Duration is ignored like any other invalid one.
func parseRetry(b []byte) (time.Duration, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var ms int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if ms > (math.MaxInt64/int64(time.Millisecond)-9)/10 {
			return 0, false
		}
		ms = ms*10 + int64(c-'0')
	}
	return time.Duration(ms) * time.Millisecond, true
}

// grow makes room for n more bytes in b, never giving it a capacity over
// limit (plus the one byte a data line's "\n" may add), so a long line
// does not cost twice the limit.
func grow(b []byte, n, limit int) []byte {
	if len(b)+n <= cap(b) {
		return b
	}
	c := min(max(2*cap(b), len(b)+n, 512), limit+1)
	nb := make([]byte, len(b), max(c, len(b)+n))
	copy(nb, b)
	return nb
}
