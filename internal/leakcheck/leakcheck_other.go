//go:build !js

package leakcheck

import "go.uber.org/goleak"

// platformOptions is empty: every goroutine left over is a leak.
func platformOptions() []goleak.Option { return nil }
