// Package websocket is the WebSocket transport of protocol section 7.1: each
// protocol message travels as one WebSocket message, text for codec=json and
// binary for codec=cbor, on {base}/ws.
//
// [Transport] dials it and [NewHandler] serves it; both ends yield a
// [transport.Conn] built on github.com/coder/websocket, and behave alike:
//
//   - A Send or Recv whose ctx ends closes the connection, because
//     coder/websocket cannot abandon a frame half read or written. Pass a
//     ctx that lives as long as the connection, not a per-message timeout.
//   - A message over the read limit fails Recv with a
//     *transport.TooLargeError and the peer is sent close status 1009.
//   - When the peer closes, Recv fails with an error wrapping the peer's
//     websocket.CloseError of coder/websocket (use errors.As for the status
//     and reason); for status 1000, the normal end, it also wraps io.EOF.
//     Later calls return the same error.
//   - Close sends status 1000 and waits at most one second for the peer's
//     answer before it drops the connection.
package websocket

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	ws "github.com/coder/websocket"

	"github.com/realtimekit/realtime/internal/redact"
	"github.com/realtimekit/realtime/transport"
)

// Path is appended to the protocol base URL to reach the WebSocket endpoint.
const Path = "/ws"

// Transport dials WebSocket connections. Its zero value works: it negotiates
// no compression and takes everything else from the transport.Config.
type Transport struct {
	// Compression offers permessage-deflate with context takeover. Repetitive
	// JSON shrinks many times over, at a cost of some memory per connection
	// (a 32 KiB window and a deflate writer) and CPU per message; messages
	// under 128 bytes are sent as they are. The server decides: a server that
	// declines gets an uncompressed connection. Default false: not offered.
	Compression bool
}

var _ transport.Transport = Transport{}

// ErrUnsupported is returned by Dial under js/wasm when the JavaScript
// runtime has no global WebSocket constructor (Node.js before 22, or a
// runtime that removed it): a client with the default transports then falls
// back to the HTTP transports. It wraps errors.ErrUnsupported and carries no
// URL. Dial never returns it on other platforms.
var ErrUnsupported = fmt.Errorf("websocket: no WebSocket in this JavaScript runtime: %w", errors.ErrUnsupported)

// Name returns "websocket".
func (Transport) Name() string { return "websocket" }

// Dial upgrades a request to {baseURL}/ws?v=1&codec=... and returns the
// connection. baseURL may be http, https, ws or wss; its own path and query
// parameters are kept. Every request goes through cfg.Client(), so its proxy,
// TLS settings and Timeout (which bounds the handshake only) apply.
//
// A server or proxy that answers with any status but a valid 101 yields a
// *transport.HandshakeError; a failure to reach the server is a plain error.
// Neither carries the base URL's query or userinfo, nor a header value.
func (t Transport) Dial(ctx context.Context, baseURL string, cfg transport.Config) (transport.Conn, error) {
	red := redact.New(baseURL, cfg.Header)
	c, err := t.dial(ctx, baseURL, cfg, red)
	return c, red.Err(err)
}

func (t Transport) dial(ctx context.Context, baseURL string, cfg transport.Config, red *redact.Redactor) (transport.Conn, error) {
	u, err := dialURL(baseURL, cfg.Codec)
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	if err := supported(); err != nil {
		return nil, err
	}
	opts, raw := t.dialOptions(cfg)
	c, resp, err := ws.Dial(ctx, u, opts)
	if err != nil {
		if resp == nil {
			return nil, fmt.Errorf("websocket: %w", err)
		}
		if resp.Body != nil {
			_ = resp.Body.Close()
		}
		return nil, &transport.HandshakeError{Transport: "websocket", StatusCode: resp.StatusCode, Err: red.Err(err), RetryAfter: transport.RetryAfter(resp.Header)}
	}
	return newConn(c, raw(), cfg.Binary, cfg.Limit()), nil
}

// dialURL maps baseURL to the WebSocket endpoint with the handshake's query.
func dialURL(baseURL, codec string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("unsupported URL scheme %q in %s", u.Scheme, redact.URL(baseURL))
	}
	if u.Host == "" {
		return "", fmt.Errorf("no host in URL %s", redact.URL(baseURL))
	}
	// Appending rather than url.JoinPath keeps the base path exactly as the
	// caller wrote it (JoinPath would clean "." and ".." segments).
	u.Path = strings.TrimSuffix(u.Path, "/") + Path
	if u.RawPath != "" {
		u.RawPath = strings.TrimSuffix(u.RawPath, "/") + Path
	}
	if codec == "" {
		codec = "json"
	}
	q := u.Query()
	q.Set("v", "1")
	q.Set("codec", codec)
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u.String(), nil
}
