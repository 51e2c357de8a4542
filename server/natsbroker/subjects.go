package natsbroker

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
)

// Channel names are any byte strings; a subject token holds them in
// base64 (RawURLEncoding), and "=" stands for the empty name, which no
// encoding produces.

const emptyToken = "="

// MaxChannel is the longest channel name Publish takes, in bytes: its
// subject must fit in a NATS protocol line (max_control_line, 4 KiB by
// default), and the server's channels are at most 255 bytes.
const MaxChannel = 1024

// ErrChannelTooLong is returned by Publish for a channel name longer than
// MaxChannel.
var ErrChannelTooLong = errors.New("natsbroker: channel name too long for a NATS subject")

func channelToken(channel string) string {
	if channel == "" {
		return emptyToken
	}
	return base64.RawURLEncoding.EncodeToString([]byte(channel))
}

var errSubject = errors.New("natsbroker: subject outside the stream's form")

// channelOf decodes the channel of a subject <prefix>.m.<token>.
func channelOf(subject, msgPrefix string) (string, error) {
	tok, ok := strings.CutPrefix(subject, msgPrefix)
	if !ok {
		return "", errSubject
	}
	if tok == emptyToken {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 {
		return "", errSubject
	}
	return string(b), nil
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// sessionKey is the KV key of a session id: the id itself when it is
// made of letters, digits, '-' and '_' (as the server's ids are), else
// "=" and its base64, which no plain key starts with.
func sessionKey(id string) string {
	if plainKey.MatchString(id) {
		return id
	}
	return "=" + base64.RawURLEncoding.EncodeToString([]byte(id))
}
