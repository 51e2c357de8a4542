package transporttest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/realtimekit/realtime/transport"
)

// redirector answers every request with a 307 to target(r).
func redirector(t *testing.T, tls bool, target func(r *http.Request) string) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target(r), http.StatusTemporaryRedirect)
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv
}

// to returns a target func that keeps the request's path and query on
// base's scheme and host.
func to(base string) func(r *http.Request) string {
	return func(r *http.Request) string { return base + r.URL.RequestURI() }
}

// dialRefused dials base, expects a *transport.RedirectError with reason,
// and checks that the harness's server saw no request.
func (h *harness) dialRefused(base string, cfg transport.Config, reason string) {
	t := h.t
	t.Helper()
	c, err := h.s.Transport.Dial(testCtx(t, waitFor), base, cfg)
	if err == nil {
		h.track(c)
		t.Fatalf("Dial through a redirect (%s) succeeded", reason)
	}
	var re *transport.RedirectError
	if !errors.As(err, &re) || !errors.Is(err, transport.ErrRedirect) || re.Reason != reason {
		t.Fatalf("Dial through a redirect = %v, want a *transport.RedirectError for %q", err, reason)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) != 0 {
		t.Errorf("the redirect target received %d requests", len(h.seen))
	}
}

func testRedirects(t *testing.T, s Subject, m mode) {
	header := http.Header{"Authorization": {"Bearer " + bearerToken}, "X-Api-Key": {headerValue}}
	t.Run("OtherOriginRefused", func(t *testing.T) {
		h := newHarness(t, s, m, transport.ServerConfig{})
		cfg := h.config()
		cfg.Header = header
		h.dialRefused(redirector(t, false, to(h.srv.URL)).URL+"/rt", cfg, "to another origin")
	})
	t.Run("AllowedHostGetsNoHeader", func(t *testing.T) {
		h := newHarness(t, s, m, transport.ServerConfig{})
		u, _ := url.Parse(h.srv.URL)
		other := "http://localhost:" + u.Port() // another host name, the same server
		cfg := h.config()
		cfg.Header = header
		cfg.AllowedRedirectHosts = []string{"localhost"}
		c, err := s.Transport.Dial(testCtx(t, waitFor), redirector(t, false, to(other)).URL+"/rt", cfg)
		if err != nil {
			t.Fatalf("Dial through a redirect to an allowed host: %v", err)
		}
		h.track(c)
		server := h.serverConn()
		ctx := testCtx(t, waitFor)
		if err := c.Send(ctx, m.message(1)); err != nil {
			t.Fatal(err)
		}
		if _, err := server.Recv(ctx); err != nil {
			t.Fatalf("server Recv: %v", err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.seen) == 0 {
			t.Fatal("the allowed host received no request")
		}
		for _, got := range h.seen {
			if got.Get("Authorization") != "" || got.Get("X-Api-Key") != "" {
				t.Errorf("the allowed host received the application's headers: %v", got)
			}
		}
	})
	t.Run("HTTPSToHTTPRefused", func(t *testing.T) {
		h := newHarness(t, s, m, transport.ServerConfig{})
		tlsSrv := redirector(t, true, to(h.srv.URL))
		tr := tlsSrv.Client().Transport.(*http.Transport).Clone()
		t.Cleanup(tr.CloseIdleConnections)
		cfg := h.config()
		cfg.HTTPClient = &http.Client{Transport: tr}
		cfg.AllowedRedirectHosts = []string{"127.0.0.1"} // a downgrade is refused anyway
		h.dialRefused(tlsSrv.URL+"/rt", cfg, "from https to http")
	})
	t.Run("Loop", func(t *testing.T) {
		h := newHarness(t, s, m, transport.ServerConfig{})
		var self *httptest.Server
		self = redirector(t, false, func(r *http.Request) string { return self.URL + r.URL.RequestURI() })
		h.dialRefused(self.URL+"/rt", h.config(), "loop")
	})
	t.Run("TooMany", func(t *testing.T) {
		h := newHarness(t, s, m, transport.ServerConfig{})
		var deeper *httptest.Server
		deeper = redirector(t, false, func(r *http.Request) string { return deeper.URL + "/x" + r.URL.RequestURI() })
		h.dialRefused(deeper.URL+"/rt", h.config(), "too many redirects")
	})
}
