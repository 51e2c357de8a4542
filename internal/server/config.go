package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/protocol"
	"github.com/realtimekit/realtime/transport"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultHeartbeat     = 15 * time.Second
	DefaultResumeWindow  = 2 * time.Minute
	DefaultMaxMessage    = protocol.DefaultMaxMessage
	DefaultSessionBuffer = 8192
	DefaultSessionBytes  = 64 << 20
	DefaultMaxSessions   = 100_000
	DefaultMaxSubs       = 4096
)

// Window is the most sequenced frames the server has outstanding towards a
// client without an acknowledgement (docs/PROTOCOL.md section 5).
const Window = protocol.Window

// Config configures a Server. The zero value works; New copies it.
//
// Hooks run on the server's goroutines (a connection's, or the one that
// expires sessions), never under a lock of the server, and must be safe
// for concurrent use. Those that take a ctx get one that ends with the
// connection.
type Config struct {
	// Heartbeat is the interval announced in hello: the server sends a ping
	// after this long without sending anything, and ends a connection after
	// 1.5 times this long without receiving anything. Default 15 s.
	Heartbeat time.Duration
	// ResumeWindow is how long a session without a connection is kept for
	// a resume. Default 2 minutes.
	ResumeWindow time.Duration
	// MaxMessage is the largest encoded message accepted from a client and
	// sent to one, in bytes. Default 1 MiB.
	MaxMessage int
	// SessionBuffer is the most sequenced frames kept for a session until
	// the client acknowledges them; beyond it the session ends with error
	// 4503 (slow consumer). Default 8192.
	SessionBuffer int
	// SessionBytes bounds the payload bytes kept for a session in the same
	// way. Default 64 MiB.
	SessionBytes int
	// MaxSessions bounds the sessions kept at once; a connect that would
	// open one more gets error 4529. Default 100,000.
	MaxSessions int
	// MaxSubscriptions bounds the channels one session subscribes to; a
	// subscribe beyond it gets a nack with code 4003. Default 4096.
	MaxSubscriptions int
	// Broker fans publications out to subscribed sessions. Nil means an
	// in-process broker private to this Server.
	Broker Broker
	// Logger receives diagnostics. Nil means silent.
	Logger *slog.Logger

	// Authorize, if set, is called with each handshake request; an error
	// refuses it with HTTP 401.
	Authorize func(r *http.Request) error
	// Handshake, if set, is called with each handshake request before any
	// other check, with the transport's name ("websocket", "sse",
	// "longpoll"). A non-zero HTTP status refuses the request with it.
	Handshake func(transportName string, r *http.Request) int
	// OnPublish, if set, decides whether a client publication is accepted.
	// A *Refusal error becomes a nack with its code; any other error a nack
	// with code 5000. Nil accepts everything.
	OnPublish func(ctx context.Context, p Publication) error
	// OnSubscribe, if set, decides whether a subscription is accepted, in
	// the same way as OnPublish.
	OnSubscribe func(ctx context.Context, s Subscription) error

	// WrapConn, if set, is called once for each established transport
	// connection before anything is read from it; the server then uses only
	// the Conn it returns (which may be c itself) and closes it at the end.
	WrapConn func(info *ConnInfo, c transport.Conn) transport.Conn
	// OnReceive, if set, observes every frame decoded from a connection,
	// before the server acts on it.
	OnReceive func(info *ConnInfo, f codec.Frame)
	// FilterSend, if set, is given every batch of frames just before it is
	// encoded and sent, and returns what is actually sent: a subset, in the
	// same order. The server's bookkeeping counts the frames it passed in
	// as sent, so dropping a frame acts as a loss on the wire. Returning no
	// frames sends nothing.
	FilterSend func(info *ConnInfo, frames []codec.Frame) []codec.Frame
	// OnConnOpen, if set, is called once hello has been sent on a
	// connection; anything sent on it after comes after hello.
	OnConnOpen func(info *ConnInfo, session string)
	// OnConnClose, if set, is called when a connection for which
	// OnConnOpen was called has ended and no longer counts in Conns.
	OnConnClose func(info *ConnInfo, session string)
	// OnSessionOpen, if set, is called when a new session is created.
	OnSessionOpen func(session string)
	// OnSessionEnd, if set, is called once a session has been forgotten,
	// with the code it ended with: 0 for a close frame or an expiry, 1001
	// when the server shuts down, 4503 for a slow consumer.
	OnSessionEnd func(session string, code uint16)
}

// ConnInfo describes one transport connection to hooks. The server passes
// the same pointer to every hook call about a connection; it is never
// modified after WrapConn.
type ConnInfo struct {
	ID        uint64        // unique within the Server, from 1
	Transport string        // "websocket", "sse" or "longpoll"
	Codec     codec.Codec   // the codec the client chose
	Request   *http.Request // the handshake request
}

// Publication is a client's publish as seen by OnPublish.
type Publication struct {
	Session string
	Channel string
	Data    []byte // owned by the server: copy it to keep it
	Seq     uint64 // the client's sequence number
	Conn    *ConnInfo
}

// Subscription is a client's subscribe as seen by OnSubscribe.
type Subscription struct {
	Session string
	Channel string
	Seq     uint64
	Conn    *ConnInfo
}

// Refusal is the error a hook returns to refuse a client frame with a
// given nack code (4003, 4100–4499, 4600–4999, ...) and reason.
type Refusal struct {
	Code   uint16
	Reason string
}

// Error describes the refusal; the nack carries Code and Reason only.
func (r *Refusal) Error() string {
	return "refused (" + strconv.Itoa(int(r.Code)) + "): " + r.Reason
}

func (c *Config) withDefaults() Config {
	out := *c
	if out.Heartbeat <= 0 {
		out.Heartbeat = DefaultHeartbeat
	}
	if out.ResumeWindow <= 0 {
		out.ResumeWindow = DefaultResumeWindow
	}
	if out.MaxMessage <= 0 {
		out.MaxMessage = DefaultMaxMessage
	}
	if out.SessionBuffer <= 0 {
		out.SessionBuffer = DefaultSessionBuffer
	}
	if out.SessionBytes <= 0 {
		out.SessionBytes = DefaultSessionBytes
	}
	if out.MaxSessions <= 0 {
		out.MaxSessions = DefaultMaxSessions
	}
	if out.MaxSubscriptions <= 0 {
		out.MaxSubscriptions = DefaultMaxSubs
	}
	if out.Broker == nil {
		out.Broker = NewLocalBroker()
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	return out
}
