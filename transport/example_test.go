package transport_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/sse"
)

// A server that redirects to another origin is not followed unless
// AllowedRedirectHosts names the host; the dial fails with a
// *transport.RedirectError, and the token never leaves for the other host.
func ExampleRedirectError() {
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("the other host was reached")
	}))
	defer elsewhere.Close()
	redirecting := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/rt", http.StatusTemporaryRedirect))
	defer redirecting.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := sse.Transport{}.Dial(ctx, redirecting.URL+"?token=secret", transport.Config{
		Header: http.Header{"Authorization": {"Bearer secret"}},
		// AllowedRedirectHosts: []string{"rt.example.com"}, to follow one.
	})
	var re *transport.RedirectError
	fmt.Println(errors.Is(err, transport.ErrRedirect), errors.As(err, &re), re.Reason)
	// Output: true true to another origin
}

// RetryAfter reads a server's Retry-After, clamped to MaxRetryAfter.
func ExampleRetryAfter() {
	fmt.Println(transport.RetryAfter(http.Header{"Retry-After": {"120"}}))
	fmt.Println(transport.RetryAfter(http.Header{"Retry-After": {"18446744074"}}))
	// Output:
	// 2m0s
	// 1h0m0s
}
