package realtime

import "time"

// SkewWallClock moves the client's view of the wall clock by d, as a
// suspend and resume of the device would; it returns a restore func.
func SkewWallClock(d time.Duration) (restore func()) {
	wallSkew.Add(int64(d))
	return func() { wallSkew.Add(-int64(d)) }
}

// ConnectBurst and ConnectEvery are the connects ceiling's burst and rate.
const (
	ConnectBurst = connectBurst
	ConnectEvery = connectEvery
)
