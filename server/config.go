package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/realtimekit/realtime/internal/protocol"
	"github.com/realtimekit/realtime/internal/serverhooks"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultHeartbeat     = 15 * time.Second
	DefaultResumeWindow  = 2 * time.Minute
	DefaultMaxMessage    = protocol.DefaultMaxMessage
	DefaultSessionBuffer = 1 << 16
	DefaultSessionBytes  = 64 << 20
	DefaultMaxSessions   = 100_000
	DefaultMaxSubs       = 4096
	DefaultHookTimeout   = 10 * time.Second
	DefaultMaxPending    = 1024
	DefaultConnectWait   = 10 * time.Second
	DefaultMaxPerID      = 100
	DefaultPublishRate   = 1000
	DefaultPublishBurst  = 2000
)

// Window is the most sequenced frames the server has outstanding towards a
// client without an acknowledgement (docs/PROTOCOL.md section 5).
const Window = protocol.Window

// Config configures a Server. The zero value works: anyone may connect,
// subscribe and publish, within the default bounds. New copies it.
//
// Hooks run on the server's goroutines, never under a lock shared between
// sessions, and must be safe for concurrent use. The frames of one session
// are acted on in the order the client sent them, so a slow hook delays
// that session only. Hooks that take a ctx get one of their own, not the
// connection's: it ends after HookTimeout or when the Server is closed
// without waiting.
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
	// 4503 (slow consumer). Default 65,536: room for a burst of
	// publishes on a busy channel; SessionBytes bounds the memory as well.
	SessionBuffer int
	// SessionBytes bounds the payload and header bytes kept for a session
	// in the same way. Default 64 MiB.
	SessionBytes int
	// MaxSessions bounds the sessions kept at once; a connect that would
	// open one more gets error 4529. Default 100,000.
	MaxSessions int
	// MaxSubscriptions bounds the channels one session subscribes to; a
	// subscribe beyond it gets a nack with code 4003. Default 4096.
	MaxSubscriptions int
	// MaxPending bounds the connections established but still awaiting
	// their connect frame. A handshake beyond it gets HTTP 503 with
	// Retry-After (or, past the handshake, error 4529). Default 1024.
	MaxPending int
	// ConnectTimeout bounds the time from a connection's establishment to
	// its connect frame; a connection that takes longer is closed. It is
	// at most 1.5 times Heartbeat. Default 10 s.
	ConnectTimeout time.Duration
	// MaxConnsPerIdentity bounds the connections of one Identity.ID (not
	// the empty one, which Authenticate left unnamed). A handshake beyond
	// it gets HTTP 429 with Retry-After (or, past the handshake, error
	// 4529). Default 100.
	MaxConnsPerIdentity int
	// PublishRate is how many publishes per second a session may make on
	// average, and PublishBurst how many at once: a token bucket. A publish
	// beyond it gets a nack with code 4529 (rate limited, temporary).
	// Defaults 1000 and 2000; a negative PublishRate turns the limit off.
	PublishRate  float64
	PublishBurst int
	// HookTimeout bounds the ctx given to Authorize and OnPublish, and to
	// the Broker's Publish of a client's publish: each call gets at least
	// half of it and at most all of it (the frames of one message share a
	// context while half remains). Default 10 s.
	HookTimeout time.Duration
	// AllowedOrigins lists the web origins, besides the server's own, whose
	// pages may connect, on every transport: "https://app.example.com", a
	// pattern of path.Match such as "https://*.example.com", or "*" for
	// any. A request with an Origin header that is neither the server's
	// own host nor listed gets 403; one that is listed gets CORS headers
	// (credentials allowed) and its preflight is answered. Requests
	// without Origin (not from a browser) are not affected. Default none:
	// same origin only.
	AllowedOrigins []string
	// Broker carries publications between the nodes that serve a channel.
	// Nil means an in-process broker private to this Server.
	Broker Broker
	// Sessions, if set, keeps every session's state where all nodes reach
	// it, so that a session resumes on any node (see cluster.go). It needs
	// a Broker that implements Log; New panics otherwise. Nil keeps
	// sessions in this node's memory.
	Sessions SessionStore
	// Relay carries the requests of SSE and long-poll connections that land
	// on another node than the one holding the connection (behind a load
	// balancer without sticky sessions) to that node. Nil means such a
	// request gets 404, as on a single node, and its client reconnects.
	// The Server starts serving it at the first SSE or long-poll handshake
	// and stops at Close.
	Relay Relay
	// Node names this node among those sharing a Relay: 1 to 64 ASCII
	// letters, digits or '-', unique among the nodes. The ids of SSE
	// and long-poll connections begin with it. Default (also for a name
	// that breaks the rule): a random name for each Server.
	Node string
	// Logger receives diagnostics. Nil means silent. Tokens, query strings
	// and connection ids are never logged.
	Logger *slog.Logger

	// Authenticate, if set, turns each handshake request into the identity
	// of the client; an error refuses the request with HTTP 401, which the
	// Go client reports as realtime.ErrUnauthorized without retrying. Nil
	// lets everyone in with the zero Identity. A session is resumed only by
	// the identity that opened it.
	Authenticate func(r *http.Request) (Identity, error)
	// Authorize, if set, decides whether a client may subscribe to or
	// publish on a channel. An error refuses the frame with a nack: a
	// *Refusal gives its code and reason, any other error code 4003
	// (forbidden). The Go client reports the nack as *realtime.RefusedError.
	// Nil allows everything.
	Authorize func(ctx context.Context, a Access) error
	// OnPublish, if set, sees each client publish once Authorize allowed
	// it, before it goes to the Broker, and may validate it, persist it or
	// refuse it: a *Refusal error becomes a nack with its code, any other
	// error a nack with code 5000 (transient: the client may publish again).
	// It is called at most once per publish (per client sequence number),
	// even when the client resends it after a lost connection or the
	// Broker failed to take it. The one exception is in cluster mode
	// (Sessions set): when a node dies after OnPublish returned and before
	// the publish was stored, the node where the client resumes calls it
	// again, with the same Client.Session and Seq, which OnPublish can use
	// as an idempotency key. Nil accepts every publish.
	OnPublish func(ctx context.Context, p Publication) error
	// OnConnect, if set, is called once a connection carries a session
	// (hello has been sent). Nil does nothing.
	OnConnect func(c *Client)
	// OnDisconnect, if set, is called once a connection for which
	// OnConnect was called has ended. The session may live on, for a
	// resume. Nil does nothing.
	OnDisconnect func(c *Client)
	// Observer, if set, receives every connection's events with their
	// timings (see Observer). Default nil: no events, and nothing is
	// spent on them.
	Observer Observer
}

// Identity is who a client is, as Authenticate established it.
type Identity struct {
	// ID names the client, such as a user id. Sessions are bound to it.
	ID string
	// Data is whatever else the application wants its hooks to see, such
	// as the claims of a token.
	Data any
}

// Client describes one client connection to the hooks. The server passes
// the same pointer to every hook call about a connection and never
// modifies it.
type Client struct {
	Session   string   // the session the connection carries
	Identity  Identity // from Authenticate
	Transport string   // "websocket", "sse" or "longpoll"
	// Request is the handshake request. Its URL and headers may carry
	// credentials: do not log them.
	Request *http.Request
}

// Action is what a client asks Authorize for.
type Action uint8

// Actions.
const (
	Subscribe Action = iota + 1
	Publish
)

// String returns "subscribe" or "publish".
func (a Action) String() string {
	switch a {
	case Subscribe:
		return "subscribe"
	case Publish:
		return "publish"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Access is a client's request to subscribe to or publish on a channel.
type Access struct {
	Client  *Client
	Action  Action
	Channel string
}

// Publication is a client's publish as seen by OnPublish.
type Publication struct {
	Client  *Client
	Channel string
	Data    []byte // owned by the server: copy it to keep it
	Seq     uint64 // the client's sequence number, unique within the session
	// Header is the publisher's header, nil when none; the server checked
	// its bounds. Do not modify it: subscribers receive it as it is.
	Header map[string]string
}

// Refusal is the error a hook returns to refuse a client frame with a
// given nack code and reason: 4003 (forbidden), 4100–4499 (refused by the
// application, permanent), 4600–4999 (refused by the application, try
// later), 4529 (rate limited). The reason reaches the client.
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
	if out.MaxPending <= 0 {
		out.MaxPending = DefaultMaxPending
	}
	if out.ConnectTimeout <= 0 {
		out.ConnectTimeout = DefaultConnectWait
	}
	out.ConnectTimeout = min(out.ConnectTimeout, out.Heartbeat+out.Heartbeat/2)
	if out.MaxConnsPerIdentity <= 0 {
		out.MaxConnsPerIdentity = DefaultMaxPerID
	}
	if out.PublishRate == 0 {
		out.PublishRate = DefaultPublishRate
	}
	if out.PublishBurst <= 0 {
		out.PublishBurst = DefaultPublishBurst
	}
	if out.HookTimeout <= 0 {
		out.HookTimeout = DefaultHookTimeout
	}
	if out.Broker == nil {
		out.Broker = NewLocalBroker()
	}
	if !validNode(out.Node) {
		out.Node = randomNode()
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	return out
}

func init() {
	serverhooks.Install = func(srv any, h serverhooks.Hooks) { srv.(*Server).hooks = h }
	serverhooks.ExpireSessions = func(srv any) { srv.(*Server).expireSessions() }
}
