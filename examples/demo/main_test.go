package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/mock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// The demo runs against the embedded mock with its forced drop: many
// publishes must be in flight when it hits, be resent, and every message
// must arrive exactly once, in order, with the server storing each once.
func TestDemoDropsWithPublishesInFlight(t *testing.T) {
	var out bytes.Buffer
	const n, window = 300, 32
	res, err := run(config{n: n, window: window}, &out)
	if err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	for i, name := range names {
		if res.inFlight[i] <= 1 {
			t.Errorf("%s had %d publishes in flight at the drop, want more than 1", name, res.inFlight[i])
		}
		if res.resent[i] < uint64(res.inFlight[i]) {
			t.Errorf("%s resent %d publishes, fewer than the %d in flight at the drop", name, res.resent[i], res.inFlight[i])
		}
		if res.lost[i]+res.dup[i]+res.order[i] != 0 {
			t.Errorf("%s: %d lost, %d duplicated, %d out of order", name, res.lost[i], res.dup[i], res.order[i])
		}
	}
	if res.stored != 2*n || res.storedDup != 0 {
		t.Errorf("server stored %d publishes (%d twice), want %d once each", res.stored, res.storedDup, 2*n)
	}
	for _, want := range []string{
		"network breaking every connection, 64 publishes in flight (alice 32, bob 32)\n",
		"alice state connected -> reconnecting",
		"(session resumed)",
		"done: 64 publishes were in flight when every connection dropped; every message was delivered exactly once, in order\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// Given -url the demo cannot force a drop, and says so instead of claiming
// delivery across one; it still checks what it did.
func TestDemoAgainstOutsideServerSaysWhatItDidNotTest(t *testing.T) {
	srv := mock.NewServer(nil)
	defer srv.Close()
	var out bytes.Buffer
	res, err := run(config{url: srv.URL() + "/?token=s3cret", n: 100, window: 16}, &out)
	if err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"tested against " + srv.URL() + "/, on channel demo-",
		": 2 clients each published 100 messages, up to 16 in flight at once; all acknowledged, and each client received all 200 exactly once, in order\n",
		"not tested: delivery across a dropped connection",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"network", "done:", "s3cret"} {
		if strings.Contains(got, bad) {
			t.Errorf("output says %q against an outside server:\n%s", bad, got)
		}
	}
	for i := range names {
		if res.inFlight[i] != 0 || res.lost[i]+res.dup[i]+res.order[i] != 0 {
			t.Errorf("counted %+v", res)
		}
	}
}
