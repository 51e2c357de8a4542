package realtime

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/engine"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/store"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
	"github.com/realtimekit/realtime/transport/sse"
	"github.com/realtimekit/realtime/transport/websocket"
)

// Options configure a Client. A nil *Options, and every zero field, take
// the documented default. New copies the Options: changing them afterwards
// has no effect on the Client.
type Options struct {
	// Codec encodes frames. Default codec.JSON{} (readable). codec.CBOR{} is
	// more compact and faster for binary payloads.
	Codec codec.Codec

	// Transports is the fallback order, best first. Default: WebSocket,
	// then SSE, then long polling.
	Transports []transport.Transport

	// HandshakeTimeout bounds each transport's attempt, from dial to the
	// server's first frame. Default 5 s.
	HandshakeTimeout time.Duration

	// HTTPClient makes every HTTP request of every transport, so its proxy
	// and TLS settings apply. Default http.DefaultClient, whose transport
	// takes proxies from the environment.
	HTTPClient *http.Client

	// Header is sent with every request. Default none.
	Header http.Header

	// AllowedRedirectHosts lists hosts, besides the base URL's own origin,
	// that a transport may follow a redirect to: "host:port" matches that
	// host and port, a bare "host" any port. Default nil: redirects are
	// followed within the origin (same scheme, host and port) only.
	// Whatever it says, a redirect from https to http, a loop, or more than
	// transport.MaxRedirects fails with transport.ErrRedirect, and Header
	// and the token are never sent to a host of another name.
	AllowedRedirectHosts []string

	// Token, if set, is called before every connection attempt (the first
	// connect, each reconnect, each upgrade probe); its result is sent as
	// "Authorization: Bearer <token>". An error fails that attempt, which is
	// retried per Reconnect. Default nil: no token.
	Token func(ctx context.Context) (string, error)

	// UpgradeInterval is how often a client connected over a lesser
	// transport (SSE, long polling) tries the first transport of
	// Transports again, moving the live session onto it when it works.
	// Default 10 s; negative turns the probe off.
	UpgradeInterval time.Duration

	// Reconnect is the retry policy of the first connect and every
	// reconnect. Zero fields take reconnect's defaults (250 ms base, ×2,
	// 30 s max, full jitter, no budget).
	Reconnect reconnect.Policy

	// OutboxCount bounds the messages waiting to be sent or acknowledged.
	// Default 4096. Publish fails with ErrOutboxFull beyond it.
	OutboxCount int
	// OutboxBytes bounds the payload bytes waiting to be sent or
	// acknowledged. Default 16 MiB.
	OutboxBytes int

	// MaxInboxBytes bounds the payload bytes of received messages not yet
	// acknowledged: those waiting for a handler, across lost sessions too,
	// and the one a handler runs. The client announces it in connect and
	// the server sends nothing more until the client acknowledges, which
	// it does once a handler took a message; a message larger than the
	// bound still comes, alone. A server that exceeds it breaks the
	// protocol (ErrProtocol): the link ends, the client reconnects with
	// backoff and the resumed session replays what was not acknowledged.
	// Default DefaultMaxInboxBytes (16 MiB); negative: no byte budget (the
	// window of 1024 messages still bounds them). Servers that predate the
	// budget ignore it.
	MaxInboxBytes int

	// OutboxPolicy says what a publish does when the outbox is full.
	// Default RefuseNew: PublishAsync fails with ErrOutboxFull.
	OutboxPolicy OutboxPolicy

	// MaxMessageSize bounds one encoded message, in both directions.
	// Default 1 MiB (codec.DefaultMaxSize). A shipped codec's own MaxSize
	// (zero meaning 1 MiB) also applies when smaller; a user codec is held
	// to MaxMessageSize by measuring what it encodes. Match the server's
	// limit: a message the server refuses as too large ends the client.
	MaxMessageSize int

	// HeartbeatGrace is how long past the server's heartbeat interval the
	// client waits with nothing received, or with a send the server does
	// not take, before it declares the connection dead (ErrLinkDead) and
	// reconnects. Default half the interval, at least 1 s. Frames sent and
	// not acknowledged, with no acknowledgement at all, for twice the
	// interval plus the grace also end the connection (ErrLinkDead): a
	// server that answers pings but never acknowledges is not working.
	HeartbeatGrace time.Duration

	// ResendOnSessionLoss, when true, resends the unacknowledged publishes
	// of a session the server did not resume, as new publishes of the new
	// session (at-least-once across the loss). Default false: they fail
	// with ErrSessionLost, and the application decides.
	ResendOnSessionLoss bool

	// OnStateChange, if set, is called for every state change, in order, on
	// the client's dispatcher goroutine (the one that runs subscription
	// handlers), never under a lock. None is dropped: once 256 changes wait
	// for a slow callback, the connection loop waits for it too. The change
	// to closed, and any announced by Close because the dispatcher had
	// already stopped, run on the goroutine that called Close; closed is
	// always the last.
	OnStateChange func(StateChange)

	// Logger receives the client's logs. Default: none.
	Logger *slog.Logger

	// Store, if set, keeps the outbox and the session on disk, so that a
	// process that restarts on the same store after a crash or a power
	// cut carries on: New loads it, the publishes the last process
	// accepted and the server did not acknowledge are sent (exactly once:
	// those already sent go again under their sequence numbers, and the
	// server drops what it has), and the session is resumed, so that the
	// server replays what the last process had not processed and nothing
	// it had. See package filestore. Default nil: memory only.
	//
	// With a Store, PublishAsync returns once the publish is recorded per
	// the store's policy, and Close leaves the session to the next Client
	// on the store rather than ending it on the server. Messages of the
	// restored session wait up to RestoreWait (10 s) for the new process
	// to subscribe their channel again. One Store serves one Client; the
	// application closes it after the Client.
	Store store.Store
}

// OutboxPolicy is what happens to a publish that finds the outbox full.
type OutboxPolicy int

const (
	// RefuseNew fails the new publish with ErrOutboxFull. The default.
	RefuseNew OutboxPolicy = iota
	// DropOldest fails the oldest publish not yet sent with ErrOutboxFull
	// (its Receipt says so) and queues the new one: for telemetry, where the
	// latest reading matters most. Sent publishes are never dropped.
	DropOldest
)

// Defaults of Options.
const (
	DefaultOutboxCount      = 4096
	DefaultOutboxBytes      = 16 << 20
	DefaultMaxInboxBytes    = 16 << 20
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultUpgradeInterval  = 10 * time.Second
)

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Codec == nil {
		c.Codec = codec.JSON{MaxSize: c.MaxMessageSize}
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = codec.DefaultMaxSize
	}
	if len(c.Transports) == 0 {
		c.Transports = DefaultTransports()
	} else {
		c.Transports = slices.Clone(c.Transports)
	}
	if c.UpgradeInterval == 0 {
		c.UpgradeInterval = DefaultUpgradeInterval
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	c.Header = maps.Clone(c.Header)
	if c.OutboxCount <= 0 {
		c.OutboxCount = DefaultOutboxCount
	}
	if c.OutboxBytes <= 0 {
		c.OutboxBytes = DefaultOutboxBytes
	}
	switch {
	case c.MaxInboxBytes == 0:
		c.MaxInboxBytes = DefaultMaxInboxBytes
	case c.MaxInboxBytes < 0:
		c.MaxInboxBytes = 0 // none
	}
	c.Reconnect = c.Reconnect.WithDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// DefaultTransports returns the default fallback order: WebSocket, SSE,
// long polling.
func DefaultTransports() []transport.Transport {
	return []transport.Transport{websocket.Transport{}, sse.Transport{}, longpoll.Transport{}}
}

// MaxConnectsPerMinute is the most connection attempts (each a negotiation
// of the connection loop or a dial of the upgrade probe) a Client makes in
// any minute, whatever its Reconnect policy and whatever the server does:
// 20 at once, then one each 600 ms.
const MaxConnectsPerMinute = engine.MaxConnectsPerMinute

// CloseTimeout bounds what Client.Close waits for the live connection to
// take its goodbye, or a send under way: 1 s. An HTTP transport (SSE, long
// polling) then closes its connection on its own bounds, at most 1 s to
// flush its last POST and 1 s for its DELETE.
const CloseTimeout = engine.CloseTimeout
