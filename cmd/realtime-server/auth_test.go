package main

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseTokens(t *testing.T) {
	toks, err := parseTokens("f", strings.NewReader("# comment\n\nt1 ann room:* news\nt2 bob\n"))
	if err != nil || len(toks) != 2 {
		t.Fatalf("%v %+v", err, toks)
	}
	if g := toks[0].id.Data.(grant); !g.allows("room:1") || !g.allows("news") || g.allows("admin") {
		t.Errorf("ann's grant %+v", g)
	}
	if g := toks[1].id.Data.(grant); !g.allows("anything") {
		t.Errorf("bob's grant %+v, want every channel", g)
	}
	for _, bad := range []string{"lonely-token\n", "t ann [\n"} {
		_, err := parseTokens("f", strings.NewReader(bad))
		if err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "lonely-token") {
			t.Errorf("error %q carries the line", err)
		}
	}
	r := httptest.NewRequest("GET", "/ws", nil)
	r.Header.Set("Authorization", "Bearer t2")
	if id, err := tokenAuth(toks)(r); err != nil || id.ID != "bob" {
		t.Errorf("t2: %+v %v", id, err)
	}
	r.Header.Set("Authorization", "Bearer t3")
	if _, err := tokenAuth(toks)(r); err == nil {
		t.Error("unknown token accepted")
	}
}

func FuzzParseTokens(f *testing.F) {
	f.Add("t1 ann room:*\n# c\n\nt2 bob\n")
	f.Add("x\n")
	f.Add("t a [\n")
	f.Fuzz(func(t *testing.T, in string) {
		toks, err := parseTokens("f", strings.NewReader(in))
		if err != nil {
			return
		}
		for _, tk := range toks {
			if tk.token == "" || tk.id.ID == "" {
				t.Fatalf("empty token or subject from %q", in)
			}
			_ = tk.id.Data.(grant).allows("c")
		}
	})
}
