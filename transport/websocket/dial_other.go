//go:build !js

package websocket

import (
	"io"
	"net/http"

	ws "github.com/coder/websocket"

	"github.com/realtimekit/realtime/internal/redirect"
	"github.com/realtimekit/realtime/transport"
)

// supported is nil: outside js/wasm the WebSocket is this package's own.
func supported() error { return nil }

// dialOptions gives coder/websocket the caller's HTTP client (proxies, TLS),
// headers and compression, and returns a func that yields the upgraded
// stream once the dial is done.
func (t Transport) dialOptions(cfg transport.Config) (*ws.DialOptions, func() io.Closer) {
	// A copy whose CheckRedirect applies the transports' redirect policy
	// (which also bounds the redirects: coder/websocket's wrapper of a nil
	// CheckRedirect would follow them for ever).
	hc := *redirect.Client(cfg)
	rt := &upgradeRecorder{base: hc.Transport}
	if rt.base == nil {
		rt.base = http.DefaultTransport
	}
	hc.Transport = rt
	opts := &ws.DialOptions{HTTPClient: &hc, HTTPHeader: cfg.Header}
	if t.Compression {
		opts.CompressionMode = ws.CompressionContextTakeover
	}
	return opts, func() io.Closer { return rt.upgraded }
}

// upgradeRecorder keeps hold of the upgraded stream under a handshake.
// coder/websocket has no way to abort its own close handshake, which can
// wait 10 s on a silent peer; closing this stream is how Close stays short.
type upgradeRecorder struct {
	base     http.RoundTripper
	upgraded io.Closer // written by RoundTrip, read once Dial has returned
}

func (r *upgradeRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusSwitchingProtocols {
		if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
			r.upgraded = rwc
		}
	}
	return resp, err
}
