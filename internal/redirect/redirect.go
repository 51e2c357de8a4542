// Package redirect is the redirect policy of every transport (see
// transport.Config.AllowedRedirectHosts): same origin by default, never
// from https to http, a loop or too many a *transport.RedirectError, and
// the application's headers never sent to another host.
package redirect

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/realtimekit/realtime/internal/redact"
	"github.com/realtimekit/realtime/transport"
)

// Client returns a copy of cfg's HTTP client whose CheckRedirect applies
// the policy, then the original client's CheckRedirect if it has one. The
// caller's client is not changed.
func Client(cfg transport.Config) *http.Client {
	hc := *cfg.Client()
	next := hc.CheckRedirect
	allowed := slices.Clone(cfg.AllowedRedirectHosts)
	header := cfg.Header
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := Check(req, via, allowed, header); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &hc
}

// Check applies the policy to req, the redirect that via[len(via)-1]
// received, and strips header from req when it leaves the original host.
func Check(req *http.Request, via []*http.Request, allowed []string, header http.Header) error {
	if len(via) == 0 {
		return nil
	}
	orig, prev := via[0].URL, via[len(via)-1].URL
	refuse := func(reason string) error {
		return &transport.RedirectError{From: redact.URL(prev.String()), To: redact.URL(req.URL.String()), Reason: reason}
	}
	switch {
	case len(via) >= transport.MaxRedirects:
		return refuse("too many redirects")
	case prev.Scheme == "https" && req.URL.Scheme != "https":
		return refuse("from https to http")
	case !sameOrigin(orig, req.URL) && !hostAllowed(req.URL, allowed):
		return refuse("to another origin")
	}
	for _, v := range via {
		if v.URL.String() == req.URL.String() {
			return refuse("loop")
		}
	}
	if !strings.EqualFold(orig.Hostname(), req.URL.Hostname()) {
		// net/http keeps most headers across a redirect, and Authorization
		// too on a subdomain: none of the application's go to another host.
		for k := range header {
			req.Header.Del(k)
		}
		req.Header.Del("Authorization")
		req.Header.Del("Cookie")
	}
	return nil
}

func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" || u.Scheme == "wss" {
		return "443"
	}
	return "80"
}

func hostAllowed(u *url.URL, allowed []string) bool {
	for _, h := range allowed {
		if host, p, err := net.SplitHostPort(h); err == nil {
			if strings.EqualFold(host, u.Hostname()) && p == port(u) {
				return true
			}
		} else if strings.EqualFold(strings.Trim(h, "[]"), u.Hostname()) {
			return true
		}
	}
	return false
}
