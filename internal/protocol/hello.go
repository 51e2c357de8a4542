package protocol

import (
	"fmt"
	"time"

	"github.com/realtimekit/realtime/codec"
)

// Bounds of the heartbeat interval a hello may announce. Below the floor a
// server would make its clients send pings many times a second; above the
// ceiling a dead link would go unnoticed for too long.
const (
	MinHeartbeat = 100 * time.Millisecond
	MaxHeartbeat = 10 * time.Minute
)

// MaxSessionField is the longest session id or resume token a hello may
// carry, in bytes: the client presents both again on every reconnect.
const MaxSessionField = 255

// CheckHello returns nil when f is a well-formed hello: this protocol's
// version, a session id and a resume token of 1 to MaxSessionField bytes,
// and a heartbeat within [MinHeartbeat, MaxHeartbeat]. Otherwise it says,
// in words, what is wrong; the values of the session fields are never
// quoted, since they are credentials.
func CheckHello(f codec.Frame) error {
	switch {
	case f.Type != codec.TypeHello:
		return fmt.Errorf("first frame is %v, not hello", f.Type)
	case f.Version == 0:
		return fmt.Errorf("hello without a protocol version")
	case f.Version != codec.Version:
		return fmt.Errorf("hello of protocol version %d, want %d", f.Version, codec.Version)
	case f.Session == "" || f.Token == "":
		return fmt.Errorf("hello without a session id or resume token")
	case len(f.Session) > MaxSessionField || len(f.Token) > MaxSessionField:
		return fmt.Errorf("hello with a session id or resume token over %d bytes", MaxSessionField)
	}
	hb := time.Duration(f.Heartbeat) * time.Millisecond
	if hb < MinHeartbeat || hb > MaxHeartbeat {
		return fmt.Errorf("hello heartbeat %v outside [%v, %v]", hb, MinHeartbeat, MaxHeartbeat)
	}
	return nil
}
