package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/realtimekit/realtime/server"
)

// publishLog is the -publish-log audit log: one line per OnPublish call,
//
//	<RFC 3339 time> <session> <client seq> <channel> <bytes>
//
// written with one write on a file opened with O_APPEND, so that lines of
// concurrent calls, and of several processes sharing the file, never mix,
// and every line written before a SIGKILL is kept. The session is named by
// the first 16 hex digits of its id's SHA-256: a session id is a
// credential and never reaches a log, but the lines of one session can
// still be told apart.
type publishLog struct{ f *os.File }

func openPublishLog(name string) (*publishLog, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &publishLog{f: f}, nil
}

// onPublish is Config.OnPublish: it accepts every publish once it is in
// the log, and refuses it as temporary when the log cannot be written.
func (l *publishLog) onPublish(_ context.Context, p server.Publication) error {
	sum := sha256.Sum256([]byte(p.Client.Session))
	line := fmt.Appendf(nil, "%s %s %d %s %d\n", time.Now().UTC().Format(time.RFC3339Nano),
		hex.EncodeToString(sum[:8]), p.Seq, p.Channel, len(p.Data))
	if _, err := l.f.Write(line); err != nil {
		return fmt.Errorf("publish log: %w", err)
	}
	return nil
}

func (l *publishLog) Close() error { return l.f.Close() }

// validNode is the rule of server.Config.Node: 1 to 64 ASCII letters,
// digits or '-'.
func validNode(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
