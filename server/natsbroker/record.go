package natsbroker

import (
	"encoding/json"
	"errors"

	"github.com/realtimekit/realtime/server"
)

// A session record is stored as JSON with a version number, so that a
// later format can be told apart: {"v":1,"id":…}. Every string is any
// byte string (channel names need not be UTF-8, which JSON strings would
// alter), so each is stored as base64. Version is the KV revision and is
// not stored.
type recordV1 struct {
	V         int      `json:"v"`
	ID        []byte   `json:"id"`
	Owner     []byte   `json:"o,omitempty"`
	Token     []byte   `json:"t,omitempty"`
	PrevToken []byte   `json:"pt,omitempty"`
	LastIn    uint64   `json:"in,omitempty"`
	Acked     uint64   `json:"ack,omitempty"`
	Pos       uint64   `json:"pos,omitempty"`
	Subs      [][]byte `json:"subs,omitempty"`
}

// ErrCorruptRecord is returned by Load when a stored record cannot be
// decoded. The error never contains the record.
var ErrCorruptRecord = errors.New("natsbroker: corrupt session record")

func encodeRecord(rec *server.SessionRecord) ([]byte, error) {
	return json.Marshal(recordV1{
		V: 1, ID: []byte(rec.ID), Owner: []byte(rec.Owner), Token: []byte(rec.Token),
		PrevToken: []byte(rec.PrevToken), LastIn: rec.LastIn, Acked: rec.Acked, Pos: rec.Pos,
		Subs: subsBytes(rec.Subs),
	})
}

func decodeRecord(b []byte) (*server.SessionRecord, error) {
	var r recordV1
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, ErrCorruptRecord
	}
	if r.V != 1 || len(r.ID) == 0 {
		return nil, ErrCorruptRecord
	}
	return &server.SessionRecord{
		ID: string(r.ID), Owner: string(r.Owner), Token: string(r.Token),
		PrevToken: string(r.PrevToken), LastIn: r.LastIn, Acked: r.Acked, Pos: r.Pos,
		Subs: subsStrings(r.Subs),
	}, nil
}

func subsBytes(subs []string) [][]byte {
	if subs == nil {
		return nil
	}
	out := make([][]byte, len(subs))
	for i, s := range subs {
		out[i] = []byte(s)
	}
	return out
}

func subsStrings(subs [][]byte) []string {
	if subs == nil {
		return nil
	}
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = string(s)
	}
	return out
}
