package realtime

import (
	"github.com/realtimekit/realtime/internal/connstate"
	"github.com/realtimekit/realtime/internal/engine"
)

// consume is the dispatcher: the engine's queue runs it for each delivery
// and state change, one at a time, in order, on the queue's own goroutine,
// never on a reader and never under a lock. A message is acknowledged
// once every subscription of its channel has had it: each handler
// returned, each iterator's loop body moved on (backpressure).
func (c *Client) consume(it engine.Item) {
	if it.Change != nil {
		c.onChange(publicChange(*it.Change))
		return
	}
	m := it.Msg
	msg := Message{Channel: m.Channel, Data: m.Data, Seq: m.Seq, Time: serverTime(m.Time), From: m.From, Header: m.Header, Redelivered: m.Redelivered}
	delivered := false
	subs := c.eng.Handler(m.Channel)
	if subs == nil { // a session restored from a store: the handler may come
		subs = c.eng.AwaitHandler(m)
	}
	switch v := subs.(type) {
	case *Subscription:
		delivered = v.deliver(msg)
	case subList: // a snapshot: the list is copy-on-write
		for _, s := range v {
			if s.deliver(msg) {
				delivered = true
			}
		}
	}
	c.eng.Processed(m.Epoch, m.Seq, delivered)
}

// publicChange is the engine's change as the package announces it.
func publicChange(ch connstate.Change) StateChange {
	out := StateChange(ch)
	out.Err = publicErr(ch.Err)
	return out
}
