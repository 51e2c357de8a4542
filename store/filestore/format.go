package filestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/store"
)

// A segment file is its header, then records. A record is
//
//	0xA5 | payload length (uint32, little endian) | CRC-32C of the payload (uint32) | payload
//
// and the payload is the kind (one byte) and the kind's fields, integers
// as uvarints, strings and byte slices as a uvarint length and the bytes.
// The marker byte lets a reader find the next record after a damaged one.
const (
	header     = "RTKSEG1\n"
	marker     = 0xA5
	recHeader  = 9
	maxPayload = 64 << 20 // a record beyond it is damage, whatever its CRC says
)

// kindCheckpoint is the file store's own record: the whole state but the
// operations' contents, first in every segment.
const kindCheckpoint store.Kind = 0x40

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errFormat is a payload that does not decode.
var errFormat = errors.New("filestore: malformed record")

// appendRecord appends r, framed, to dst.
func appendRecord(dst []byte, r *store.Record) []byte {
	start := len(dst)
	dst = append(dst, marker, 0, 0, 0, 0, 0, 0, 0, 0, byte(r.Kind))
	switch r.Kind {
	case store.KindAdd:
		dst = appendUint(dst, r.ID)
		dst = append(dst, byte(r.Type))
		dst = appendBytes(dst, []byte(r.Channel))
		dst = appendBytes(dst, r.Data)
		if len(r.Header) > 0 { // absent when empty: a reader takes none
			keys := slices.Sorted(maps.Keys(r.Header))
			dst = appendUint(dst, uint64(len(keys)))
			for _, k := range keys {
				dst = appendBytes(dst, []byte(k))
				dst = appendBytes(dst, []byte(r.Header[k]))
			}
		}
	case store.KindNumber, kindCheckpoint:
		if r.Kind == kindCheckpoint {
			dst = appendBytes(dst, []byte(r.Session))
			dst = appendBytes(dst, []byte(r.Token))
			dst = appendUint(dst, r.Seq) // processed
			dst = appendUint(dst, r.ID)  // the last id
		}
		dst = appendUint(dst, r.Next)
		dst = appendUint(dst, uint64(len(r.IDs)))
		for i, id := range r.IDs {
			dst = appendUint(dst, id)
			dst = appendUint(dst, r.Seqs[i])
		}
	case store.KindAcked, store.KindProcessed:
		dst = appendUint(dst, r.Seq)
	case store.KindDone:
		dst = appendUint(dst, uint64(len(r.IDs)))
		for _, id := range r.IDs {
			dst = appendUint(dst, id)
		}
	case store.KindSession:
		reset := byte(0)
		if r.Reset {
			reset = 1
		}
		dst = append(dst, reset)
		dst = appendBytes(dst, []byte(r.Session))
		dst = appendBytes(dst, []byte(r.Token))
	}
	payload := dst[start+recHeader:]
	binary.LittleEndian.PutUint32(dst[start+1:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+5:], crc32.Checksum(payload, crcTable))
	return dst
}

func appendBytes(dst, b []byte) []byte {
	return append(appendUint(dst, uint64(len(b))), b...)
}

// decoder reads the fields of one payload; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errFormat
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errFormat
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes() []byte {
	n := d.uint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errFormat
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// pairs reads a count, then that many (id, sequence number) pairs, each at
// least two bytes: a count the payload cannot hold is refused before any
// allocation.
func (d *decoder) pairs(r *store.Record, seqs bool) {
	n := d.uint()
	per := uint64(1)
	if seqs {
		per = 2
	}
	if d.err != nil || n > uint64(len(d.b))/per {
		d.err = errFormat
		return
	}
	r.IDs = make([]uint64, n)
	if seqs {
		r.Seqs = make([]uint64, n)
	}
	for i := range r.IDs {
		r.IDs[i] = d.uint()
		if seqs {
			r.Seqs[i] = d.uint()
		}
	}
}

// header reads a publish's headers: a count, then that many key and
// value pairs, each at least two bytes. An empty or repeated key is
// malformed: the writer never makes one.
func (d *decoder) header(r *store.Record) {
	n := d.uint()
	if d.err != nil || n == 0 || n > uint64(len(d.b))/2 {
		d.err = errFormat
		return
	}
	r.Header = make(map[string]string, n)
	for range n {
		k, v := d.bytes(), d.bytes()
		if _, dup := r.Header[string(k)]; d.err != nil || dup {
			d.err = errFormat
			return
		}
		r.Header[string(k)] = string(v)
	}
}

// decodePayload decodes one record's payload. Contents alias p. Channel
// names are taken from intern when it holds them, and added to it (nil:
// none).
func decodePayload(p []byte, intern map[string]string) (store.Record, error) {
	if len(p) == 0 {
		return store.Record{}, errFormat
	}
	r := store.Record{Kind: store.Kind(p[0])}
	d := decoder{b: p[1:]}
	switch r.Kind {
	case store.KindAdd:
		r.ID = d.uint()
		r.Type = codec.Type(d.byte())
		ch := d.bytes()
		if v, ok := intern[string(ch)]; ok {
			r.Channel = v
		} else {
			r.Channel = string(ch)
			if intern != nil && len(intern) < 4096 {
				intern[r.Channel] = r.Channel
			}
		}
		r.Data = d.bytes()
		if d.err == nil && len(d.b) > 0 {
			d.header(&r)
		}
	case store.KindNumber, kindCheckpoint:
		if r.Kind == kindCheckpoint {
			r.Session = string(d.bytes())
			r.Token = string(d.bytes())
			r.Seq = d.uint()
			r.ID = d.uint()
		}
		r.Next = d.uint()
		d.pairs(&r, true)
	case store.KindAcked, store.KindProcessed:
		r.Seq = d.uint()
	case store.KindDone:
		d.pairs(&r, false)
	case store.KindSession:
		r.Reset = d.byte() == 1
		r.Session = string(d.bytes())
		r.Token = string(d.bytes())
	default:
		return r, fmt.Errorf("%w: unknown kind %d", errFormat, p[0])
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d bytes left over", errFormat, len(d.b))
	}
	return r, d.err
}

// frame is one record found in a segment: where it starts and how long it
// is, framing included.
type frame struct {
	off, n int64
	rec    store.Record
}

// scan reads the records of one segment's contents after the header. It
// never fails: a stretch it cannot read is skipped up to the next record
// whose marker, length and CRC check out, and counted in the damage it
// returns.
func scan(b []byte, base int64, intern map[string]string) (out []frame, dmg store.Damage) {
	i := 0
	bad := -1 // start of the damaged stretch being skipped
	for i < len(b) {
		if r, n, ok := readAt(b[i:], intern); ok {
			if bad >= 0 {
				dmg.Records++
				dmg.Bytes += int64(i - bad)
				bad = -1
			}
			out = append(out, frame{off: base + int64(i), n: int64(n), rec: r})
			i += n
			continue
		}
		if bad < 0 {
			bad = i
		}
		i++
	}
	if bad >= 0 {
		dmg.Records++
		dmg.Bytes += int64(len(b) - bad)
	}
	return out, dmg
}

// readAt reads the record at the start of b, if there is a whole, intact
// one, and returns it with its framed length.
func readAt(b []byte, intern map[string]string) (store.Record, int, bool) {
	if len(b) < recHeader || b[0] != marker {
		return store.Record{}, 0, false
	}
	n := binary.LittleEndian.Uint32(b[1:])
	if n == 0 || n > maxPayload || uint64(n) > uint64(len(b)-recHeader) {
		return store.Record{}, 0, false
	}
	p := b[recHeader : recHeader+int(n)]
	if crc32.Checksum(p, crcTable) != binary.LittleEndian.Uint32(b[5:]) {
		return store.Record{}, 0, false
	}
	r, err := decodePayload(p, intern)
	if err != nil {
		return store.Record{}, 0, false
	}
	return r, recHeader + int(n), true
}

// appendUint appends v as a uvarint. Not inlined: appendRecord calls it
// in many places, and a device's binary pays for every inlined copy.
//
//go:noinline
func appendUint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }
