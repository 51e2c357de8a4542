package chaos

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine of the client, the mock server and the test must be gone
// when the tests end. The one exception is toxiproxy's own: in v2.12.0,
// ToxicLink.write stops reading a link's last channel when a write to the
// destination fails (the client hung up), so the toxic goroutines feeding
// that channel, and the link's reader behind them, block for ever on their
// next send. That happens on every kill that lands while data is in
// flight, and Proxy.Stop does not release them. They hold only toxiproxy's
// channels; everything of ours is still checked.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Each toxic of a link runs in ToxicStub.Run (noop, latency,
		// slicer, limit_data, … are all under it).
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*ToxicStub).Run"),
		// The link's reader, blocked handing a chunk to the first toxic.
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).read"),
	)
}
