package transport_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

func TestHandshakeErrorClassification(t *testing.T) {
	for code, want := range map[int][2]bool{ // {Refused, Unauthorized}
		400: {true, false}, 401: {false, true}, 403: {true, false}, 404: {true, false},
		405: {true, false}, 426: {true, false}, 501: {true, false}, 502: {true, false},
		500: {false, false}, 503: {false, false}, 200: {false, false},
	} {
		e := &transport.HandshakeError{Transport: "websocket", StatusCode: code}
		if e.Refused() != want[0] || e.Unauthorized() != want[1] {
			t.Errorf("%d: Refused %v Unauthorized %v, want %v", code, e.Refused(), e.Unauthorized(), want)
		}
	}
}

func TestTooLargeErrorMatchesSentinel(t *testing.T) {
	var err error = &transport.TooLargeError{Limit: 10}
	if !errors.Is(err, transport.ErrTooLarge) {
		t.Fatal("errors.Is(TooLargeError, ErrTooLarge) is false")
	}
}

func TestConfigDefaults(t *testing.T) {
	var c transport.Config
	if c.Limit() != transport.DefaultReadLimit || c.Client() != http.DefaultClient {
		t.Fatal("zero Config does not take the defaults")
	}
}

func TestRetryAfterParsing(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"-4":                            0,
		"soon":                          0,
		"Wed, 21 Oct 2015 07:28:00 GMT": 0, // in the past
		"+3":                            0, // not delay-seconds
		"3600":                          time.Hour,
		"3601":                          transport.MaxRetryAfter,
		"18446744074":                   transport.MaxRetryAfter, // overflowed to 0.29 s once
		"99999999999999999999999":       transport.MaxRetryAfter, // beyond uint64
		"Fri, 31 Dec 9999 23:59:59 GMT": transport.MaxRetryAfter,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		if got := transport.RetryAfter(h); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
	h := http.Header{"Retry-After": {time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}}
	if got := transport.RetryAfter(h); got < 59*time.Minute || got > time.Hour {
		t.Errorf("HTTP date an hour ahead: %v", got)
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "3", "-4", "+3", "18446744074", "99999999999999999999999",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", " 5", "5 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := transport.RetryAfter(http.Header{"Retry-After": {v}})
		if got < 0 || got > transport.MaxRetryAfter {
			t.Fatalf("Retry-After %q: %v, outside [0, %v]", v, got, transport.MaxRetryAfter)
		}
	})
}
