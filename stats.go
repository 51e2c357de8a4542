package realtime

import (
	"time"

	"github.com/realtimekit/realtime/internal/session"
	"github.com/realtimekit/realtime/store"
)

// Stats is a snapshot of what a Client has done since New, for metrics and
// debugging. Counters only grow. Read it with Client.Stats, as often as you
// like (it is cheap), and export it to Prometheus, OpenTelemetry or logs
// from your own collector; the SDK imports no metrics library.
type Stats struct {
	State     State
	Transport string // "" while not connected

	Connects    uint64 // connections established, first and re-
	Disconnects uint64 // connections lost (not counting Close)
	// DiedYoung counts the connections lost before they worked (stayed up
	// twice the heartbeat, within [5 s, 1 min], or had something
	// acknowledged): each was retried as a failed attempt, with backoff.
	DiedYoung      uint64
	Upgrades       uint64 // live sessions moved onto a better transport
	ContinuityLost uint64 // reconnects whose session the server did not resume

	Published  uint64 // publishes accepted into the outbox
	Sent       uint64 // sequenced frames sent for the first time
	Resent     uint64 // sequenced frames sent again after a reconnect
	Acked      uint64 // publishes the server acknowledged
	Refused    uint64 // publishes the server refused
	Failed     uint64 // publishes failed locally (dropped, session lost, closed)
	Delivered  uint64 // messages handed to a handler
	Duplicates uint64 // server frames dropped as already seen

	OutboxCount int // messages queued or awaiting acknowledgement
	OutboxBytes int // their payload and channel bytes

	// InboxCount is the number of messages waiting for their handler, and
	// InboxBytes their payload bytes. The protocol window bounds the count
	// (at most 1024 messages, all of the current session, since the client
	// acknowledges a message only once its handler returned) and
	// Options.MaxInboxBytes the bytes (16 MiB by default; one message
	// larger than it may wait alone).
	InboxCount int
	InboxBytes int
	// DroppedStale counts messages that were still waiting for their
	// handler when the server did not resume their session: they are
	// dropped unhandled, and the StateChange with ContinuityLost says so.
	DroppedStale uint64

	// Restored is the number of operations (publishes, subscribes)
	// loaded from Options.Store by New: accepted by an earlier process
	// and not acknowledged.
	Restored int
	// StoreDamage is what the store found unreadable and cut when it
	// opened: damaged stretches and their bytes (a torn tail after a power
	// cut, a flipped bit). Zero without a store.
	StoreDamage store.Damage
	// StoreErrors counts the records and commits the store failed:
	// changes that will not survive a restart. A publish whose record
	// failed is not accepted (PublishAsync returns a *StoreError).
	StoreErrors uint64
	// StoreBehind counts resumes where the server had taken sequence
	// numbers the store had lost (a power cut under a policy that does
	// not sync every commit): publishes renumbered then may arrive twice.
	StoreBehind uint64

	// AckLatency counts acknowledged publishes by the time from PublishAsync
	// to the server's ack: AckLatency[i] holds those of at most
	// LatencyBuckets[i], the last entry the slower rest.
	AckLatency [len(LatencyBuckets) + 1]uint64
}

// LatencyBuckets are the upper bounds of Stats.AckLatency's buckets, from
// 100 µs to 5 s.
var LatencyBuckets = session.LatencyBuckets

// Stats returns a snapshot of the client's counters, outbox and inbox.
func (c *Client) Stats() Stats {
	e := c.eng.Stats()
	sc := e.Session
	return Stats{
		State: e.State, Transport: e.Transport,
		Connects: e.Connects, Disconnects: e.Disconnects, DiedYoung: e.DiedYoung,
		Upgrades: e.Upgrades, ContinuityLost: e.ContinuityLost,
		Published: e.Published, Delivered: e.Delivered,
		Sent: sc.Sent, Resent: sc.Resent, Acked: sc.Acked, Refused: sc.Refused,
		Failed: sc.Failed, Duplicates: sc.Duplicates,
		OutboxCount: e.OutboxCount, OutboxBytes: e.OutboxBytes,
		InboxCount: e.InboxCount, InboxBytes: e.InboxBytes, DroppedStale: e.DroppedStale,
		AckLatency: sc.AckLatency,
		Restored:   e.Store.Restored, StoreDamage: e.Store.Damage, StoreErrors: e.Store.Errors,
		StoreBehind: sc.StoreBehind,
	}
}

// Quantile estimates the q-quantile (0 < q ≤ 1) of AckLatency as the upper
// bound of the bucket it falls in; 0 when nothing was acknowledged, and
// LatencyBuckets' last bound doubled when it falls in the open bucket.
func (s Stats) Quantile(q float64) time.Duration {
	var total uint64
	for _, n := range s.AckLatency {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.5)
	var seen uint64
	for i, n := range s.AckLatency {
		seen += n
		if seen >= max(rank, 1) {
			if i < len(LatencyBuckets) {
				return LatencyBuckets[i]
			}
			break
		}
	}
	return 2 * LatencyBuckets[len(LatencyBuckets)-1]
}
