package natsbroker

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/realtimekit/realtime/server"
)

// A publication's metadata travels in NATS headers of the stored message,
// each present only when the metadata is: a publication without any is
// stored as before, and one stored before carries none. NATS header
// values cannot hold CR or LF, so text is stored as unpadded URL-safe
// base64.
const (
	hdrTime   = "Rt-Ts"   // server.Message.Time, Unix milliseconds in decimal
	hdrFrom   = "Rt-From" // server.Message.From, base64
	hdrHeader = "Rt-H"    // server.Message.Header as a JSON object, base64
)

var b64 = base64.RawURLEncoding

// errBadMeta reports metadata headers that do not decode. The error holds
// none of their contents.
var errBadMeta = errors.New("natsbroker: malformed publication metadata")

// putMeta sets m's metadata in h, made when nil, and returns h.
func putMeta(h nats.Header, m *server.Message) (nats.Header, error) {
	set := func(k, v string) {
		if h == nil {
			h = nats.Header{}
		}
		h.Set(k, v)
	}
	if !m.Time.IsZero() {
		set(hdrTime, strconv.FormatInt(m.Time.UnixMilli(), 10))
	}
	if m.From != "" {
		set(hdrFrom, b64.EncodeToString([]byte(m.From)))
	}
	if len(m.Header) != 0 {
		b, err := json.Marshal(m.Header)
		if err != nil {
			return h, err
		}
		set(hdrHeader, b64.EncodeToString(b))
	}
	return h, nil
}

// getMeta sets m's metadata from h. On a malformed header it sets what it
// could and returns errBadMeta: the publication is still delivered.
func getMeta(h nats.Header, m *server.Message) error {
	var bad bool
	if v := h.Get(hdrTime); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			m.Time = time.UnixMilli(ms)
		} else {
			bad = true
		}
	}
	if v := h.Get(hdrFrom); v != "" {
		if b, err := b64.DecodeString(v); err == nil {
			m.From = string(b)
		} else {
			bad = true
		}
	}
	if v := h.Get(hdrHeader); v != "" {
		var hm map[string]string
		b, err := b64.DecodeString(v)
		if err == nil {
			err = json.Unmarshal(b, &hm)
		}
		if err == nil && len(hm) > 0 {
			m.Header = hm
		} else if err != nil {
			bad = true
		}
	}
	if bad {
		return errBadMeta
	}
	return nil
}
