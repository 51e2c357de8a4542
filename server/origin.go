package server

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// cors applies the origin policy to a request from a browser (one with an
// Origin header) and reports whether it goes on: a foreign origin not in
// Config.AllowedOrigins gets 403 on every transport, an allowed one gets
// the CORS headers, and its preflight is answered here. The request to
// hand on is returned, without its Origin header once the origin has been
// allowed here, so that the transport's own same-origin check (WebSocket)
// does not refuse what the configuration allows.
func (srv *Server) cors(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	origin := r.Header.Get("Origin")
	if origin == "" || sameOrigin(origin, r.Host) {
		return r, true
	}
	if !srv.originAllowed(origin) {
		srv.cfg.Logger.Debug("origin refused")
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return nil, false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Expose-Headers", "Retry-After")
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
		h.Set("Access-Control-Allow-Headers", allowHeaders(r.Header.Get("Access-Control-Request-Headers")))
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return nil, false
	}
	r = r.Clone(r.Context())
	r.Header.Del("Origin")
	return r, true
}

// allowHeaders answers a preflight's Access-Control-Request-Headers: the
// headers a client of the protocol sends, plus those asked for that are
// plain header names, within a bound.
func allowHeaders(asked string) string {
	out := []string{"Authorization", "Content-Type"}
	for _, f := range strings.Split(asked, ",") {
		f = strings.TrimSpace(f)
		if f != "" && len(out) < 16 && validHeaderName(f) {
			out = append(out, f)
		}
	}
	return strings.Join(out, ", ")
}

func validHeaderName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// sameOrigin reports whether origin names the host the request was sent
// to, as a browser's same-origin request does.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// originAllowed matches origin against Config.AllowedOrigins.
func (srv *Server) originAllowed(origin string) bool {
	origin = strings.ToLower(origin)
	for _, p := range srv.cfg.AllowedOrigins {
		if p == "*" {
			return true
		}
		if ok, err := path.Match(strings.ToLower(p), origin); err == nil && ok {
			return true
		}
	}
	return false
}
