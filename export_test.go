package realtime

import (
	"time"

	"github.com/realtimekit/realtime/internal/engine"
)

// SkewWallClock moves the client's view of the wall clock by d, as a
// suspend and resume of the device would; it returns a restore func.
func SkewWallClock(d time.Duration) (restore func()) { return engine.SkewWallClock(d) }

// ConnectBurst and ConnectEvery are the connects ceiling's burst and rate.
const (
	ConnectBurst = engine.ConnectBurst
	ConnectEvery = engine.ConnectEvery
)
