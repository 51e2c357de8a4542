package natsbroker

import (
	"encoding/json"
	"errors"

	"github.com/realtimekit/realtime/server"
)

// A session record is stored as JSON with a version number, so that a
// later format can be told apart: {"v":1,"id":…}. Version is the KV
// revision and is not stored.
type recordV1 struct {
	V         int      `json:"v"`
	ID        string   `json:"id"`
	Owner     string   `json:"o,omitempty"`
	Token     string   `json:"t,omitempty"`
	PrevToken string   `json:"pt,omitempty"`
	LastIn    uint64   `json:"in,omitempty"`
	Acked     uint64   `json:"ack,omitempty"`
	Pos       uint64   `json:"pos,omitempty"`
	Subs      []string `json:"subs,omitempty"`
}

// ErrCorruptRecord is returned by Load when a stored record cannot be
// decoded. The error never contains the record.
var ErrCorruptRecord = errors.New("natsbroker: corrupt session record")

func encodeRecord(rec *server.SessionRecord) ([]byte, error) {
	return json.Marshal(recordV1{
		V: 1, ID: rec.ID, Owner: rec.Owner, Token: rec.Token, PrevToken: rec.PrevToken,
		LastIn: rec.LastIn, Acked: rec.Acked, Pos: rec.Pos, Subs: rec.Subs,
	})
}

func decodeRecord(b []byte) (*server.SessionRecord, error) {
	var r recordV1
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, ErrCorruptRecord
	}
	if r.V != 1 || r.ID == "" {
		return nil, ErrCorruptRecord
	}
	return &server.SessionRecord{
		ID: r.ID, Owner: r.Owner, Token: r.Token, PrevToken: r.PrevToken,
		LastIn: r.LastIn, Acked: r.Acked, Pos: r.Pos, Subs: r.Subs,
	}, nil
}
