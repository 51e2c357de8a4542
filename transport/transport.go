// Package transport defines how encoded protocol messages cross the wire.
//
// A [Transport] dials a [Conn]; a Conn moves whole messages (each one an
// encoded frame or batch of frames, see package codec) in both directions.
// A transport knows nothing of sequence numbers, sessions or channels.
//
// Implementations live in subpackages: websocket, sse and longpoll. Each
// package also serves its transport (a server-side handler that yields the
// same Conn interface), and each passes the conformance suite in
// transport/transporttest.
package transport

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Conn is one live transport connection.
//
// Concurrency: one goroutine may call Send while another calls Recv; Send
// is not called concurrently with itself, nor Recv with itself. Close may be
// called at any time from any goroutine, more than once; it unblocks a
// pending Send or Recv, which then return an error wrapping net.ErrClosed
// (or the error that broke the connection first).
//
// A Send or Recv whose ctx ends returns ctx's error; the connection may then
// be unusable, and the caller closes it.
type Conn interface {
	// Send writes one message. The Conn does not retain msg after Send
	// returns. A nil error means the message was handed to the network, not
	// that the peer received it.
	Send(ctx context.Context, msg []byte) error
	// Recv returns the next message, in the order the peer sent them. The
	// caller owns the returned slice.
	Recv(ctx context.Context) ([]byte, error)
	// Close ends the connection and releases its resources.
	Close() error
}

// Transport dials connections of one kind. Implementations are safe for
// concurrent use.
type Transport interface {
	// Name is the transport's name: "websocket", "sse" or "longpoll".
	Name() string
	// Dial opens a connection to the server whose protocol base URL is
	// baseURL (http, https, ws or wss). It returns once the transport is
	// established; a refused handshake is a *HandshakeError.
	Dial(ctx context.Context, baseURL string, cfg Config) (Conn, error)
}

// Config is what a dial needs beyond the URL. Its zero value works: the
// default HTTP client, no extra headers, text messages, the default limit.
type Config struct {
	// HTTPClient makes every HTTP request of the transport, so its proxy and
	// TLS settings apply. Nil means http.DefaultClient.
	HTTPClient *http.Client
	// Header is sent with every request of the transport (the handshake, and
	// for SSE and long polling every poll and post). Nil means none.
	Header http.Header
	// Codec is the codec name announced to the server ("json" if empty).
	Codec string
	// Binary says the messages are binary; a text-only transport base64s
	// them. It matches the codec's Binary.
	Binary bool
	// ReadLimit is the largest message Recv accepts, in bytes; a larger one
	// fails the connection with a *TooLargeError. Zero means 1 MiB.
	ReadLimit int64
	// AllowedRedirectHosts lists the hosts, besides the request's own
	// origin, that a transport follows a redirect to: "host:port" matches
	// that host and port, a bare "host" any port. Nil, the default, follows
	// redirects within the origin (same scheme, host and port) only.
	// Whatever it says: a redirect from https to http, a loop, and more
	// than MaxRedirects redirects fail with a *RedirectError; Header (with
	// Authorization, so the token) is not sent to a host of another name;
	// and HTTPClient's own CheckRedirect, if any, is consulted after.
	AllowedRedirectHosts []string
}

// MaxRedirects is the most redirects a request follows, as in net/http.
const MaxRedirects = 10

// ErrRedirect matches every *RedirectError under errors.Is.
var ErrRedirect = errors.New("transport: redirect refused")

// RedirectError reports a redirect a transport refused to follow. Its
// URLs carry no query or userinfo.
type RedirectError struct {
	From, To string // the redirecting request's URL, and the target
	// Reason is "to another origin", "from https to http", "loop" or
	// "too many redirects".
	Reason string
}

// Error describes the refused redirect.
func (e *RedirectError) Error() string {
	return fmt.Sprintf("transport: redirect from %s to %s refused: %s", e.From, e.To, e.Reason)
}

// Is makes errors.Is(err, ErrRedirect) true.
func (e *RedirectError) Is(target error) bool { return target == ErrRedirect }

// DefaultReadLimit is the ReadLimit used when Config.ReadLimit is zero.
const DefaultReadLimit = 1 << 20

// Limit returns the read limit in force: c.ReadLimit, or DefaultReadLimit.
func (c Config) Limit() int64 {
	if c.ReadLimit > 0 {
		return c.ReadLimit
	}
	return DefaultReadLimit
}

// Client returns the HTTP client in force: c.HTTPClient or http.DefaultClient.
func (c Config) Client() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return http.DefaultClient
}

// HandshakeError reports a handshake the server (or a proxy) answered with
// an HTTP status that does not establish the transport.
type HandshakeError struct {
	Transport  string // the transport's Name
	StatusCode int    // the HTTP status received, 0 if none
	Err        error  // the underlying error, if any
	// RetryAfter is the delay the server asked for in a Retry-After header
	// (with 429 or 503, typically); zero if none.
	RetryAfter time.Duration
}

// MaxRetryAfter is the longest delay RetryAfter returns: a larger one
// (or one too large to represent) is clamped to it, so that a server's
// header can neither overflow a time.Duration nor park a client for days.
const MaxRetryAfter = time.Hour

// RetryAfter parses a Retry-After header: delay seconds or an HTTP date.
// It returns zero when the header is absent, malformed or in the past, and
// at most MaxRetryAfter.
func RetryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if digits(v) {
		// Any run of digits is a delay; one that does not fit in uint64
		// is a very long one.
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), MaxRetryAfter)
	}
	return 0
}

// digits reports whether s is one or more ASCII digits (RFC 9110's
// delay-seconds).
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Error describes the handshake error.
func (e *HandshakeError) Error() string {
	s := fmt.Sprintf("transport %s: handshake refused with HTTP status %d", e.Transport, e.StatusCode)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *HandshakeError) Unwrap() error { return e.Err }

// Unauthorized reports whether the refusal is an authentication failure
// (401), which no other transport will fix.
func (e *HandshakeError) Unauthorized() bool { return e.StatusCode == http.StatusUnauthorized }

// Refused reports whether the status says this transport is not available
// here (blocked by a proxy, not served, or not supported), so the next
// transport should be tried at once.
func (e *HandshakeError) Refused() bool {
	switch e.StatusCode {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound,
		http.StatusMethodNotAllowed, http.StatusUpgradeRequired,
		http.StatusNotImplemented, http.StatusBadGateway:
		return true
	}
	return false
}

// TooLargeError reports a received message over the read limit.
type TooLargeError struct {
	Limit int64 // the read limit in bytes
}

// Error names the limit that was exceeded.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("transport: message exceeds the read limit of %d bytes", e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// ErrTooLarge matches every *TooLargeError under errors.Is.
var ErrTooLarge = errors.New("transport: message too large")

// ServerConfig configures the server side of a transport: each transport
// package has a NewHandler(ServerConfig) http.Handler that serves it.
type ServerConfig struct {
	// Accept is called once for each connection the handler establishes, on
	// a goroutine of the handler, and owns conn until it returns; the
	// handler closes conn after. It must not be nil.
	Accept func(r *http.Request, conn Conn)
	// Check, if set, is called with each handshake request before the
	// transport is established. A non-zero HTTP status refuses the request
	// with that status (401 for authentication). Zero accepts it.
	Check func(r *http.Request) int
	// ReadLimit is the largest message the server side accepts, in bytes.
	// Zero means DefaultReadLimit.
	ReadLimit int64
	// PollTimeout bounds how long a long-poll request is held with nothing
	// to send, and (times two) how long a connection may go without any
	// request before it is closed. Zero means 25 s. Other transports ignore it.
	PollTimeout time.Duration
	// Node, if not empty, names this server node: the HTTP transports (SSE
	// and long polling) give their connections ids of the form
	// "<Node>_<random>", so that any node can tell which one holds a
	// connection: the id stays URL-safe, as clients require. It must not
	// contain '_'. Default empty: ids without a prefix.
	Node string
	// Elsewhere, if set, serves a request of an HTTP transport that names
	// (by ?id=) a connection this handler does not hold, whose id's prefix
	// names another node than Node, instead of the 404 such a request gets
	// otherwise: it is how a server forwards the request to the node that
	// holds the connection. node is that prefix. Default nil: 404.
	Elsewhere func(w http.ResponseWriter, r *http.Request, node string)
}

// NodeOf returns the node prefix of a connection id made under
// ServerConfig.Node, or "" when id has none.
func NodeOf(id string) string {
	i := strings.LastIndexByte(id, '_')
	if i < 0 {
		return ""
	}
	return id[:i]
}

// NewID returns a new random connection id, prefixed with Node and '_'
// when Node is not empty.
func (cfg *ServerConfig) NewID() string {
	if cfg.Node == "" {
		return rand.Text()
	}
	return cfg.Node + "_" + rand.Text()
}

// ServeElsewhere reports whether a request naming id, which this handler does
// not hold, belongs to another node, and serves it there when it does.
func (cfg *ServerConfig) ServeElsewhere(w http.ResponseWriter, r *http.Request, id string) bool {
	if cfg.Elsewhere == nil {
		return false
	}
	node := NodeOf(id)
	if node == "" || node == cfg.Node {
		return false
	}
	cfg.Elsewhere(w, r, node)
	return true
}

// Aborter is implemented by connections whose Close says goodbye to the
// peer and waits a little for the answer (the WebSocket close handshake).
// Abort ends the connection at once instead, ending Recv and Send: for a
// connection known to be dead, on which a goodbye can only time out.
// Calling Close after Abort returns at once.
type Aborter interface {
	Abort()
}

// IsBinary reports whether a handshake request asks for a binary codec
// (codec=cbor). Server-side handlers use it to pick message framing.
func IsBinary(r *http.Request) bool { return r.URL.Query().Get("codec") == "cbor" }
