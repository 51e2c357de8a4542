package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// Three members join, talk and leave; the output must show each seeing the
// others arrive and go, and everyone hearing every message.
func TestChatRoomWithPresence(t *testing.T) {
	var out bytes.Buffer
	if err := run("", 3, 2, &out); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"alice sees bob join; members: alice, bob\n",
		"bob   sees alice here; members: alice, bob\n",
		"carol sees alice here;",
		"carol sees bob here;",
		`alice hears "carol: message 2"`,
		"alice heard all 6 messages\n",
		"bob   heard all 6 messages\n",
		"carol heard all 6 messages\n",
		"alice sees carol leave; members: alice, bob\n",
		"bob   sees carol leave; members: alice, bob\n",
		"alice sees bob leave; members: alice\n",
		"done: everyone heard everything and saw everyone come and go\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestChatNeedsTwoMembers(t *testing.T) {
	if err := run("", 1, 1, &bytes.Buffer{}); err == nil {
		t.Error("a room of one ran")
	}
}
