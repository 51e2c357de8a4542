package realtime_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/transport"
)

// TestRedirectToAnotherOriginIsRefused: a server that redirects every
// request to another origin (a mock on another port) never sees the
// client's headers or token there, and Connect fails with a
// *transport.RedirectError, on every transport.
func TestRedirectToAnotherOriginIsRefused(t *testing.T) {
	_, redirecting, reached := redirectingServers(t)
	for _, tr := range secretTransports {
		t.Run(tr.Name(), func(t *testing.T) {
			c, err := realtime.New(redirecting.URL, &realtime.Options{
				Transports: []transport.Transport{tr},
				Header:     http.Header{"X-Api-Key": {"SECRET-header-value"}},
				Token:      func(context.Context) (string, error) { return "SECRET-bearer-token", nil },
			})
			require.NoError(t, err)
			// Long enough for one refused attempt on a loaded machine.
			ctx, cancel := context.WithTimeout(context.Background(), scaled(2*time.Second))
			defer cancel()
			err = c.Connect(ctx)
			require.ErrorIs(t, err, transport.ErrRedirect)
			require.NoError(t, c.Close())
			require.Zero(t, reached.Load(), "the other origin was reached")
		})
	}
}

// TestAllowedRedirectHostIsFollowed: Options.AllowedRedirectHosts reaches
// every transport; a redirect to a host it names is followed.
func TestAllowedRedirectHostIsFollowed(t *testing.T) {
	target, redirecting, reached := redirectingServers(t)
	for _, tr := range secretTransports {
		t.Run(tr.Name(), func(t *testing.T) {
			before := reached.Load()
			c, err := realtime.New(redirecting.URL, &realtime.Options{
				Transports:           []transport.Transport{tr},
				AllowedRedirectHosts: []string{target.Listener.Addr().String()},
			})
			require.NoError(t, err)
			require.NoError(t, c.Connect(testCtx(t, 10*time.Second)))
			require.NoError(t, c.Close())
			require.Greater(t, reached.Load(), before, "the allowed host was not reached")
		})
	}
}

// TestBadURLErrorCarriesNoSecret: New's error for a URL it cannot parse
// does not repeat the URL's query.
func TestBadURLErrorCarriesNoSecret(t *testing.T) {
	_, err := realtime.New("http://127.0.0.1:1/%zz?token=SECRET-in-query", nil)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "SECRET")
}

// redirectingServers starts a mock behind target, which counts the requests
// it gets, and a server that redirects every request to target.
func redirectingServers(t *testing.T) (target, redirecting *httptest.Server, reached *atomic.Int32) {
	srv := newServer(t, nil)
	reached = new(atomic.Int32)
	target = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(target.Close)
	redirecting = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)
	return target, redirecting, reached
}
