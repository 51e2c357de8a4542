package redirect_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/internal/redirect"
	"github.com/realtimekit/realtime/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

func req(t *testing.T, raw string) *http.Request {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Request{URL: u, Header: http.Header{"Authorization": {"Bearer x"}, "X-Key": {"v"}, "Accept": {"a"}}}
}

func TestCheck(t *testing.T) {
	hdr := http.Header{"X-Key": {"v"}}
	for _, tc := range []struct {
		from, to string
		allowed  []string
		reason   string // "" for followed
		stripped bool
	}{
		{"http://a:1/x", "http://a:1/y", nil, "", false},
		{"http://a/x", "http://a:80/y", nil, "", false},
		{"http://a:1/x", "http://a:2/y", nil, "to another origin", false},
		{"http://a/x", "https://a/y", nil, "to another origin", false},
		{"http://a/x", "http://b/y", nil, "to another origin", false},
		{"http://a/x", "http://b:9/y", []string{"b"}, "", true},
		{"http://a/x", "http://b:9/y", []string{"b:9"}, "", true},
		{"http://a/x", "http://b:9/y", []string{"b:8"}, "to another origin", false},
		{"http://a/x", "http://a.b/y", []string{"a.b"}, "", true},
		{"http://a/x", "https://a/y", []string{"a"}, "", false},
		{"https://a/x", "http://a/y", []string{"a"}, "from https to http", false},
		{"http://a/x", "http://a/x", nil, "loop", false},
	} {
		r := req(t, tc.to)
		err := redirect.Check(r, []*http.Request{req(t, tc.from)}, tc.allowed, hdr)
		var re *transport.RedirectError
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("%s -> %s (%v): %v, want followed", tc.from, tc.to, tc.allowed, err)
		case tc.reason != "" && (!errors.As(err, &re) || re.Reason != tc.reason || !errors.Is(err, transport.ErrRedirect)):
			t.Errorf("%s -> %s (%v): %v, want refused: %s", tc.from, tc.to, tc.allowed, err, tc.reason)
		case tc.reason == "":
			gone := r.Header.Get("Authorization") == "" && r.Header.Get("X-Key") == ""
			if gone != tc.stripped || r.Header.Get("Accept") == "" {
				t.Errorf("%s -> %s: headers %v, want stripped=%v (Accept kept)", tc.from, tc.to, r.Header, tc.stripped)
			}
		}
	}
	via := make([]*http.Request, transport.MaxRedirects)
	for i := range via {
		via[i] = req(t, "http://a/"+string(rune('a'+i)))
	}
	if err := redirect.Check(req(t, "http://a/z"), via, nil, nil); !errors.Is(err, transport.ErrRedirect) {
		t.Errorf("redirect %d: %v, want a RedirectError", len(via)+1, err)
	}
}

func TestClientCopiesAndChains(t *testing.T) {
	called := false
	user := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { called = true; return http.ErrUseLastResponse }}
	orig := user.CheckRedirect
	hc := redirect.Client(transport.Config{HTTPClient: user})
	if hc == user {
		t.Fatal("Client returned the caller's client")
	}
	if err := hc.CheckRedirect(req(t, "http://a/y"), []*http.Request{req(t, "http://a/x")}); err != http.ErrUseLastResponse || !called {
		t.Errorf("the caller's CheckRedirect was not consulted: %v", err)
	}
	called = false
	if err := hc.CheckRedirect(req(t, "http://b/y"), []*http.Request{req(t, "http://a/x")}); !errors.Is(err, transport.ErrRedirect) || called {
		t.Errorf("refusal: %v, caller's consulted %v", err, called)
	}
	if user.CheckRedirect == nil || orig == nil {
		t.Error("the caller's client was changed")
	}
	if redirect.Client(transport.Config{}) == http.DefaultClient || http.DefaultClient.CheckRedirect != nil {
		t.Error("http.DefaultClient was changed")
	}
}
