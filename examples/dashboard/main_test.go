package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// The dashboard starts on SSE behind the refused WebSocket, moves to
// WebSocket once it is served again, and receives every update in order.
func TestDashboardUpgradesFromSSE(t *testing.T) {
	var out bytes.Buffer
	cfg := config{channel: "metrics", updates: 30, every: 10 * time.Millisecond, upgrade: 50 * time.Millisecond}
	if err := run(cfg, &out); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	got := out.String()
	order := []string{
		"client  connected over sse\n",
		"server  serving websocket again\n",
		"client  state connected -> connected (transport upgraded from sse) over websocket\n",
		"client  received 30 updates in order, none missing, now over websocket\n",
	}
	at := 0
	for _, want := range order {
		i := strings.Index(got[at:], want)
		if i < 0 {
			t.Fatalf("output lacks %q after byte %d:\n%s", want, at, got)
		}
		at += i + len(want)
	}
}
