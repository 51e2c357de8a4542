package realtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/protocol"
	"github.com/realtimekit/realtime/internal/session"
)

// ErrInvalidHeader is wrapped by the error PublishMessage and
// PublishMessageAsync return, nothing queued, for a header over the
// protocol's bounds (more than 16 entries, or more than 4,096 bytes of
// keys and values together), with an empty key or a key holding a control
// character, or that is not valid UTF-8. A server refuses such a publish
// with code 4011 (*RefusedError).
var ErrInvalidHeader = protocol.ErrHeader

// PublishMessage publishes m.Data on m.Channel with m.Header and waits as
// Publish does. The server sets the Time and From its subscribers see;
// m.Seq, m.Time and m.From are ignored. It fails at once, with nothing
// queued, as PublishMessageAsync does.
func (c *Client) PublishMessage(ctx context.Context, m Message) error {
	r, err := c.PublishMessageAsync(m)
	if err != nil {
		return err
	}
	if err := r.Wait(ctx); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			c.eng.Withdraw(r.op, err)
		}
		return err
	}
	return nil
}

// PublishMessageAsync queues a copy of m.Data and m.Header for m.Channel
// and returns at once with a Receipt to wait on, as PublishAsync does. It
// fails at once with ErrOutboxFull, ErrMessageTooLarge (the header counts
// towards the size), an error wrapping ErrInvalidHeader, an invalid
// channel name, ErrDraining once Drain was called, or ErrClosed.
func (c *Client) PublishMessageAsync(m Message) (*Receipt, error) {
	if err := checkChannel(m.Channel); err != nil {
		return nil, err
	}
	if err := protocol.CheckHeader(m.Header); err != nil {
		return nil, fmt.Errorf("realtime: %w", err)
	}
	if err := protocol.FitsPublish(c.eng.Codec(), c.eng.Limit(), m.Channel, m.Data, m.Header); err != nil {
		if errors.Is(err, protocol.ErrTooLarge) {
			return nil, ErrMessageTooLarge
		}
		return nil, fmt.Errorf("realtime: the codec cannot encode this publish: %w", err)
	}
	// Copied: the caller may reuse data and header at once, and the
	// outbox's byte limit then measures memory the client really holds.
	var h map[string]string
	if len(m.Header) != 0 {
		h = maps.Clone(m.Header)
	}
	op := session.NewOp(codec.Frame{Type: codec.TypePublish, Channel: m.Channel, Data: bytes.Clone(m.Data), Header: h})
	if err := c.eng.Enqueue(op); err != nil {
		return nil, publicErr(err)
	}
	return &Receipt{op: op}, nil
}

// serverTime is the time of a msg frame's "ts", in Unix milliseconds; the
// zero Time for none.
func serverTime(ms uint64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(min(ms, math.MaxInt64)))
}
