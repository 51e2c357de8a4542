package natsbroker

import (
	"strings"
	"testing"
)

func FuzzChannelSubject(f *testing.F) {
	for _, s := range []string{"", "a", "\x00private", "a.b.*>", "späť", "\xff\xfe", "="} {
		f.Add(s)
	}
	const pre = "realtime.m."
	f.Fuzz(func(t *testing.T, ch string) {
		tok := channelToken(ch)
		if tok == "" || strings.ContainsAny(tok, ". *>\t\r\n") {
			t.Fatalf("token %q is not one subject token", tok)
		}
		got, err := channelOf(pre+tok, pre)
		if err != nil || got != ch {
			t.Fatalf("%q came back as %q, %v", ch, got, err)
		}
		// Any subject decodes to a channel or an error, never a panic.
		_, _ = channelOf(pre+ch, pre)
		_, _ = channelOf(ch, pre)
	})
}

func TestSessionKey(t *testing.T) {
	for id, want := range map[string]string{"ABC123": "ABC123", "a-b_c": "a-b_c", "a.b": "=YS5i", "": "=", "=x": "=PXg"} {
		if got := sessionKey(id); got != want {
			t.Errorf("sessionKey(%q) = %q, want %q", id, got, want)
		}
	}
}
