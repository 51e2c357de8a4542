package realtime

import (
	"context"

	"github.com/realtimekit/realtime/internal/session"
)

// ReceiptStatus is where a publish stands, as Receipt.Status reports it.
// Its zero value is ReceiptQueued.
type ReceiptStatus int

// The statuses of a publish. Acknowledged, Refused and Failed are final.
const (
	ReceiptQueued       = ReceiptStatus(session.Queued)  // waiting in the outbox, not sent yet
	ReceiptSent         = ReceiptStatus(session.Sent)    // sent, not acknowledged yet
	ReceiptAcknowledged = ReceiptStatus(session.Acked)   // acknowledged by the server
	ReceiptRefused      = ReceiptStatus(session.Refused) // refused by the server (*RefusedError)
	ReceiptFailed       = ReceiptStatus(session.Failed)  // failed locally: withdrawn, session lost, client closed
)

// String returns "queued", "sent", "acknowledged", "refused" or "failed"
// ("unknown" for another value).
func (s ReceiptStatus) String() string { return session.OpState(s).String() }

// Done reports whether s is final: acknowledged, refused or failed.
func (s ReceiptStatus) Done() bool { return s >= ReceiptAcknowledged && s <= ReceiptFailed }

// Receipt tracks one publish made with PublishAsync.
type Receipt struct{ op *session.Op }

// Wait blocks until the publish is acknowledged (nil), refused
// (*RefusedError), failed (ErrSessionLost, ErrClosed), or ctx ends.
func (r *Receipt) Wait(ctx context.Context) error { return publicErr(r.op.Wait(ctx)) }

// Done is closed when the publish is acknowledged, refused or failed.
func (r *Receipt) Done() <-chan struct{} { return r.op.Done() }

// Status returns where the publish stands.
func (r *Receipt) Status() ReceiptStatus { return ReceiptStatus(r.op.State()) }

// Err returns the publish's error once done (nil when acknowledged), and
// nil before.
func (r *Receipt) Err() error { return publicErr(r.op.Err()) }
