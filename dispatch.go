package realtime

import (
	"github.com/realtimekit/realtime/internal/connstate"
	"github.com/realtimekit/realtime/internal/engine"
)

// consume is the dispatcher: the engine's queue runs it for each delivery
// and state change, one at a time, in order, on the queue's own goroutine,
// never on a reader and never under a lock. A message is acknowledged
// once its handler returned (backpressure).
func (c *Client) consume(it engine.Item) {
	if it.Change != nil {
		c.onChange(publicChange(*it.Change))
		return
	}
	m := it.Msg
	h := c.handler(m.Channel)
	if h == nil { // a session restored from a store: the handler may come
		h, _ = c.eng.AwaitHandler(m).(Handler)
	}
	if h != nil {
		start := c.delivering()
		h(Message{Channel: m.Channel, Data: m.Data, Seq: m.Seq, Time: serverTime(m.Time), From: m.From, Header: m.Header, Redelivered: m.Redelivered})
		c.eng.DeliveredBytes(len(m.Data))
		c.delivered(&m, start)
	}
	c.eng.Processed(m.Epoch, m.Seq, h != nil)
}

// publicChange is the engine's change as the package announces it.
func publicChange(ch connstate.Change) StateChange {
	out := StateChange(ch)
	out.Err = publicErr(ch.Err)
	return out
}
