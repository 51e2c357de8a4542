package realtime

import (
	"math"
	"testing"
)

// A msg without "ts" has the zero Time; one with it, that instant to the
// millisecond; one beyond what time.Time holds does not wrap around.
func TestServerTime(t *testing.T) {
	if !serverTime(0).IsZero() {
		t.Errorf("serverTime(0) = %v, want the zero Time", serverTime(0))
	}
	if got := serverTime(1700000000123).UnixMilli(); got != 1700000000123 {
		t.Errorf("serverTime(1700000000123) = %d ms", got)
	}
	if got := serverTime(math.MaxUint64).UnixMilli(); got != math.MaxInt64 {
		t.Errorf("serverTime(MaxUint64) = %d ms, want MaxInt64", got)
	}
}
