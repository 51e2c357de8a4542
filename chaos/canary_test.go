package chaos

import "testing"

// TestSuiteScriptCanary is the chaos suite's side of the root module's
// canary: .ci/run runs only these two tests, with the root one failing on
// purpose, and checks that this one still ran and passed.
func TestSuiteScriptCanary(t *testing.T) {
	t.Log("the chaos suite ran")
}
