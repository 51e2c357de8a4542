package natsbroker

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

// Options configures a Cluster. The zero value gives the defaults.
type Options struct {
	// Prefix names what the Cluster keeps in NATS: the stream is Prefix in
	// upper case, the KV bucket of sessions <PREFIX>_sessions, and the
	// subjects start with Prefix and a dot. Letters, digits, '-' and '_'.
	// Default "realtime".
	Prefix string
	// Replicas is the number of replicas of the stream and of the bucket.
	// Default 1; use 3 on a 3-node JetStream cluster.
	Replicas int
	// Retention is how long publications are kept (the stream's MaxAge).
	// It must exceed the servers' ResumeWindow: a session away longer
	// than Retention cannot resume. Default 10 minutes.
	Retention time.Duration
	// MaxBytes bounds the stream's size; the oldest publications go first.
	// Default 1 GiB.
	MaxBytes int64
	// DedupWindow is the stream's duplicate window for Message.ID: a
	// publication resent within it is stored once. It should exceed the
	// servers' ResumeWindow. Default 5 minutes.
	DedupWindow time.Duration
	// SessionTTL is the time to live of a session record not written
	// since (the bucket's TTL). It must exceed the servers' ResumeWindow.
	// Default 10 minutes.
	SessionTTL time.Duration
	// Logger receives diagnostics. Nil means silent. Tokens, channel names
	// and connection ids are never logged.
	Logger *slog.Logger

	// maxMsgs bounds the stream in messages (tests only; 0: no bound).
	maxMsgs int64
	// healthEvery is the period of the health check (tests; default 1 s).
	healthEvery time.Duration
	// maxRelay bounds the relay's concurrent handles (default 512).
	maxRelay int
}

// ErrOptions is wrapped by New's error when Options are not valid.
var ErrOptions = errors.New("natsbroker: invalid options")

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (o Options) withDefaults() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = "realtime"
	}
	if !prefixRE.MatchString(o.Prefix) || len(o.Prefix) > 64 {
		return o, fmt.Errorf("%w: Prefix must be 1 to 64 letters, digits, '-' or '_'", ErrOptions)
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Retention == 0 {
		o.Retention = 10 * time.Minute
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 1 << 30
	}
	if o.DedupWindow == 0 {
		o.DedupWindow = 5 * time.Minute
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.healthEvery == 0 {
		o.healthEvery = time.Second
	}
	if o.maxRelay == 0 {
		o.maxRelay = 512
	}
	switch {
	case o.Replicas < 1 || o.Replicas > 5:
		return o, fmt.Errorf("%w: Replicas must be 1 to 5", ErrOptions)
	case o.Retention < 0 || o.MaxBytes < 0 || o.DedupWindow < 0 || o.SessionTTL < 0:
		return o, fmt.Errorf("%w: a negative duration or size", ErrOptions)
	case o.DedupWindow > o.Retention:
		return o, fmt.Errorf("%w: DedupWindow exceeds Retention", ErrOptions)
	}
	return o, nil
}
