package realtime_test

import (
	"os"
	"testing"
)

// TestSuiteScriptCanary fails on purpose when REALTIME_DELIBERATE_FAILURE=1,
// and passes otherwise. .ci/run sets it to prove that test.sh still runs the
// chaos suite after a failure in this module, and exits non-zero.
func TestSuiteScriptCanary(t *testing.T) {
	if os.Getenv("REALTIME_DELIBERATE_FAILURE") == "1" {
		t.Fatal("deliberate failure (REALTIME_DELIBERATE_FAILURE=1)")
	}
}
