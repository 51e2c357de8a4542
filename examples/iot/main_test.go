package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/mock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// With its default flags the agent goes through an outage of more readings
// than its outbox holds: it must drop some, say how many, and the collector
// must receive every other reading exactly once, in order.
func TestDefaultRunDropsOldestAndDeliversTheRestOnce(t *testing.T) {
	var out bytes.Buffer
	cfg := defaults()
	res, err := run(cfg, &out)
	if err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	if res.published != cfg.readings || res.dropped == 0 || res.received != res.published-res.dropped ||
		res.duplicates != 0 || res.outOfOrder != 0 {
		t.Errorf("counted %+v: want %d published, some dropped, the rest received once, in order\n%s", res, cfg.readings, out.String())
	}
	// The outage alone queues more readings than the outbox holds.
	if least := cfg.outage - outboxCount; res.dropped < least {
		t.Errorf("dropped %d, want at least %d", res.dropped, least)
	}
	got := out.String()
	for _, want := range []string{
		"agent connected over websocket",
		"network down for the next 100 readings (the outbox holds 64)",
		"agent state connected -> reconnecting",
		"network up",
		fmt.Sprintf("dropped %d readings to make room (the oldest not yet sent), acknowledged %d\n", res.dropped, res.acked),
		fmt.Sprintf("collector received %d readings = %d published - %d dropped, each exactly once, in order\n",
			res.received, res.published, res.dropped),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

// An outage shorter than the outbox holds drops nothing: every reading
// queued while offline is delivered after it.
func TestShortOutageDropsNothing(t *testing.T) {
	var out bytes.Buffer
	res, err := run(config{readings: 30, interval: 5 * time.Millisecond, outage: 10}, &out)
	if err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	if res.offline == 0 || res.dropped != 0 || res.received != 30 || res.acked != 30 {
		t.Errorf("counted %+v: want readings queued offline, none dropped, all 30 received\n%s", res, out.String())
	}
}

// Given -url the agent forces no outage, and the collector still checks
// what arrived end to end.
func TestAgainstOutsideServer(t *testing.T) {
	srv := mock.NewServer(nil)
	defer srv.Close()
	var out bytes.Buffer
	res, err := run(config{url: srv.URL(), readings: 20, interval: time.Millisecond, outage: 10}, &out)
	if err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "network down") || res.dropped != 0 || res.received != 20 {
		t.Errorf("counted %+v: want no outage, all 20 received\n%s", res, out.String())
	}
}

// With -store the agent restarts in the middle of the outage, as a device
// that reboots does: the readings queued before it come back from the
// store, and every reading arrives exactly once, in order, none dropped.
func TestRestartInTheOutageWithAStoreLosesNothing(t *testing.T) {
	var out bytes.Buffer
	cfg := defaults()
	cfg.store = t.TempDir() + "/store"
	res, err := run(cfg, &out)
	if err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	if res.restored == 0 || res.dropped != 0 || res.received != cfg.readings || res.acked != cfg.readings ||
		res.duplicates != 0 || res.outOfOrder != 0 {
		t.Errorf("counted %+v: want readings restored, none dropped, all %d received once, in order\n%s", res, cfg.readings, out.String())
	}
	if !strings.Contains(out.String(), fmt.Sprintf("agent restarted in the middle of the outage: %d readings came back from the store", res.restored)) {
		t.Errorf("output lacks the restart:\n%s", out.String())
	}
}
