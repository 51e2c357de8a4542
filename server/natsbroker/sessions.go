package natsbroker

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/realtimekit/realtime/server"
)

// sessions is the server.SessionStore on the KV bucket <PREFIX>_sessions:
// one key per session, the record's Version being the key's revision.
type sessions struct{ c *Cluster }

// Sessions returns the SessionStore of the Cluster, on the KV bucket
// <PREFIX>_sessions, whose records expire SessionTTL after their last
// write. Create of an id that exists returns an error wrapping
// server.ErrSessionMoved.
func (c *Cluster) Sessions() server.SessionStore { return sessions{c} }

func (s sessions) Create(ctx context.Context, rec *server.SessionRecord) error {
	b, err := encodeRecord(rec)
	if err != nil {
		return fmt.Errorf("natsbroker: session: %w", err)
	}
	rev, err := s.c.kv.Create(ctx, sessionKey(rec.ID), b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("natsbroker: session exists: %w", server.ErrSessionMoved)
	}
	if err != nil {
		s.c.health.failed(err)
		return fmt.Errorf("natsbroker: create session: %w", err)
	}
	rec.Version = rev
	return nil
}

func (s sessions) Load(ctx context.Context, id string) (*server.SessionRecord, error) {
	e, err := s.c.kv.Get(ctx, sessionKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, server.ErrNoSession
	}
	if err != nil {
		s.c.health.failed(err)
		return nil, fmt.Errorf("natsbroker: load session: %w", err)
	}
	rec, err := decodeRecord(e.Value())
	if err != nil {
		return nil, err
	}
	if rec.ID != id {
		return nil, ErrCorruptRecord
	}
	rec.Version = e.Revision()
	return rec, nil
}

func (s sessions) Update(ctx context.Context, rec *server.SessionRecord) error {
	b, err := encodeRecord(rec)
	if err != nil {
		return fmt.Errorf("natsbroker: session: %w", err)
	}
	rev, err := s.c.kv.Update(ctx, sessionKey(rec.ID), b, rec.Version)
	if err != nil {
		return s.writeErr(ctx, "update", rec.ID, err)
	}
	rec.Version = rev
	return nil
}

func (s sessions) Delete(ctx context.Context, id string, version uint64) error {
	err := s.c.kv.Delete(ctx, sessionKey(id), jetstream.LastRevision(version))
	if err != nil {
		return s.writeErr(ctx, "delete", id, err)
	}
	return nil
}

// writeErr tells a record that moved from one that is gone, when a
// conditional write failed.
func (s sessions) writeErr(ctx context.Context, op, id string, err error) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
		s.c.health.failed(err)
		return fmt.Errorf("natsbroker: %s session: %w", op, err)
	}
	_, gerr := s.c.kv.Get(ctx, sessionKey(id))
	switch {
	case errors.Is(gerr, jetstream.ErrKeyNotFound), errors.Is(gerr, jetstream.ErrKeyDeleted):
		return server.ErrNoSession
	case gerr != nil:
		s.c.health.failed(gerr)
		return fmt.Errorf("natsbroker: %s session: %w", op, gerr)
	}
	return server.ErrSessionMoved
}
