// Package leakcheck holds the goleak options of every package's TestMain,
// so that a goroutine the platform's runtime keeps for itself is not taken
// for a leak of ours.
package leakcheck

import "go.uber.org/goleak"

// Options returns the options to pass to goleak.VerifyTestMain and
// goleak.VerifyNone: none but what the platform needs (see platformOptions).
func Options() []goleak.Option { return platformOptions() }
