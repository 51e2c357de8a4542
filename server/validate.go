package server

import (
	"crypto/rand"
	"math"
	"unicode/utf8"

	"github.com/realtimekit/realtime/internal/protocol"
)

// ValidChannel reports whether name is a valid channel name, by the rule
// client and server share (protocol.CheckChannel).
func ValidChannel(name string) bool { return protocol.CheckChannel(name) == nil }

// maxReason bounds the reason text of a nack, so that a hook's long error
// cannot make a frame that does not fit in a message.
const maxReason = 256

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// fits reports whether the msg frame delivering m can be sent to a client
// of either codec: the publish fitted the publisher's codec, but JSON may
// spend more on binary data than CBOR, a server sequence number may need
// more digits than the client's, and the server adds a timestamp and the
// publisher's identity.
func (srv *Server) fits(m *Message) bool {
	limit := srv.cfg.MaxMessage
	n := len(m.Data) + len(m.Channel) + len(m.From)
	for k, v := range m.Header {
		n += len(k) + len(v)
	}
	// JSON escapes a byte in at most six: a payload this small fits.
	if 6*n+128+18*len(m.Header) <= limit {
		return true
	}
	f := m.frame()
	f.Seq, f.Time = math.MaxUint64, math.MaxUint64 // the longest they encode
	for _, name := range protocol.Codecs {
		if _, err := newCodec(name, limit).Encode(nil, f); err != nil {
			return false
		}
	}
	return true
}

// randomToken returns 128 random bits, URL-safe: session ids and resume
// tokens must be unguessable.
func randomToken() string {
	return rand.Text()
}
