package fallback_test

import (
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/fallback"
	"github.com/realtimekit/realtime/internal/leakcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

func TestErrorListsAndUnwrapsEveryAttempt(t *testing.T) {
	boom := errors.New("boom")
	e := &fallback.Error{Attempts: []fallback.Attempt{
		{Transport: "websocket", Err: boom},
		{Transport: "sse", Err: fallback.ErrNoFirstFrame},
	}}
	if got, want := e.Error(), "fallback: no transport worked; websocket: boom; sse: "+fallback.ErrNoFirstFrame.Error(); got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, boom) || !errors.Is(e, fallback.ErrNoFirstFrame) {
		t.Fatal("an attempt's error is not seen through the Error")
	}
}
