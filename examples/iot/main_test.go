package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The agent publishes through a forced outage; its output must show
// readings queued while offline and every reading acknowledged afterwards
// (run itself also checks that the server received them all).
func TestAgentCatchesUpAfterOutage(t *testing.T) {
	var out bytes.Buffer
	cfg := config{readings: 30, interval: 10 * time.Millisecond, outage: 10}
	if err := run(cfg, &out); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"agent connected over websocket",
		"network down",
		"state connected -> reconnecting",
		"network up",
		"acknowledged 30 of 30 readings (0 dropped to make room)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	m := regexp.MustCompile(`published 30 readings, (\d+) of them queued while offline`).FindStringSubmatch(got)
	if m == nil || m[1] == "0" {
		t.Errorf("output does not show readings queued while offline:\n%s", got)
	}
}

// An outage longer than the outbox holds drops the oldest readings, names
// how many, and still delivers the rest.
func TestAgentDropsOldestWhenOutboxFull(t *testing.T) {
	var out bytes.Buffer
	cfg := config{readings: 100, interval: time.Millisecond, outage: 90}
	if err := run(cfg, &out); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	m := regexp.MustCompile(`acknowledged (\d+) of 100 readings \((\d+) dropped to make room\)`).FindStringSubmatch(out.String())
	if m == nil || m[2] == "0" {
		t.Errorf("output does not show readings dropped:\n%s", out.String())
	}
}
