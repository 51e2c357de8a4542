package main

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demo runs against the embedded mock, with its forced drop, and
// returns an error unless every message arrived exactly once, in order.
func TestDemoRuns(t *testing.T) {
	if err := run("", 300); err != nil {
		t.Fatal(err)
	}
}
