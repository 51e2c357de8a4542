package redact_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/internal/redact"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://u:p@h:1/a/b?token=x#f": "http://h:1/a/b",
		"wss://h/rt?":                  "wss://h/rt",
		"https://h":                    "https://h",
		"%zz":                          redact.Mask,
		"/sse?id=c1":                   "/sse",
	} {
		if got := redact.URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrKeepsChainAndDropsSecrets(t *testing.T) {
	base := "http://127.0.0.1:9/rt?token=SECRET-1"
	r := redact.New(base, http.Header{"Authorization": {"Bearer SECRET-2"}, "X-Short": {"ab"}}).With("CONNID1234")
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	ue := &url.Error{Op: "Post", URL: base + "&id=CONNID1234", Err: opErr}
	wrapped := fmt.Errorf("lib: failed to send: %w; auth was Bearer SECRET-2 for CONNID1234", ue)
	for _, err := range []error{ue, wrapped} {
		got := r.Err(err)
		for _, s := range []string{"SECRET", "CONNID1234", "token="} {
			if strings.Contains(got.Error(), s) {
				t.Errorf("%q still carries %q", got, s)
			}
		}
		if !errors.Is(got, os.ErrDeadlineExceeded) || !errors.Is(got, opErr) {
			t.Errorf("%v: the chain was cut", got)
		}
		var ne net.Error
		if !errors.As(got, &ne) || !ne.Timeout() {
			t.Errorf("%v: not a net.Error timeout any more", got)
		}
		var back *url.Error
		if !errors.As(got, &back) || strings.Contains(back.URL, "SECRET") || strings.Contains(back.URL, "CONNID") {
			t.Errorf("the *url.Error in the chain still names %q", back.URL)
		}
		if again := r.Err(got); again != got {
			t.Errorf("Err of a redacted error wrapped it again: %v", again)
		}
	}
	if got := r.Err(context.Canceled); got != context.Canceled {
		t.Errorf("an error with nothing to hide was wrapped: %#v", got)
	}
	if r.Err(nil) != nil {
		t.Error("Err(nil) is not nil")
	}
	if got := r.String("ab cd"); got != "ab cd" {
		t.Errorf("a short header value was masked: %q", got)
	}
	if got := r.String(`sse: POST: Post "/sse?id=c1": refused`); got != `sse: POST: Post "/sse": refused` {
		t.Errorf("a relative URL kept its query: %q", got)
	}
	if _, perr := url.Parse("http://h/?token=SECRET-3%zz"); perr != nil {
		if got := r.Err(fmt.Errorf("realtime: bad URL: %w", perr)).Error(); strings.Contains(got, "SECRET") {
			t.Errorf("a parse error keeps the URL: %q", got)
		}
	}
	var zero *redact.Redactor
	if got := zero.String(`Get "http://h/p?q=1": EOF`); got != `Get "http://h/p": EOF` {
		t.Errorf("nil Redactor: %q", got)
	}
}

func FuzzString(f *testing.F) {
	f.Add("Get \"http://h/p?token=SECRET-XY\": EOF")
	f.Add("wss://u:SECRET-XY@h/ws?v=1 and SECRET-XY")
	r := redact.New("http://h/?token=SECRET-XY", nil)
	f.Fuzz(func(t *testing.T, s string) {
		out := r.String(s)
		if strings.Contains(out, "SECRET-XY") {
			t.Fatalf("String(%q) = %q keeps the secret", s, out)
		}
	})
}
