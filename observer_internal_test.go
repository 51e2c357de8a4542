package realtime

import (
	"testing"

	"github.com/realtimekit/realtime/internal/engine"
)

// The façade converts the engine's event kinds by number.
func TestEventKindsMatchTheEngine(t *testing.T) {
	pairs := []struct {
		pub EventKind
		eng engine.EventKind
	}{
		{EventConnect, engine.EventConnect}, {EventDisconnect, engine.EventDisconnect},
		{EventTransportChange, engine.EventTransportChange}, {EventResume, engine.EventResume},
		{EventPublish, engine.EventPublish}, {EventAck, engine.EventAck}, {EventNack, engine.EventNack},
		{EventDrop, engine.EventDrop}, {EventDeliver, engine.EventDeliver},
	}
	for _, p := range pairs {
		if uint8(p.pub) != uint8(p.eng) {
			t.Errorf("%v is %d, the engine's %d", p.pub, p.pub, p.eng)
		}
	}
}

// Unset, the dispatcher's hooks allocate nothing.
func TestObserverHooksUnsetAllocateNothing(t *testing.T) {
	c := &Client{}
	m := engine.Message{Channel: "c", Data: []byte("x")}
	if n := testing.AllocsPerRun(100, func() { c.delivered(&m, c.delivering()) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
	if observe(nil) != nil {
		t.Error("a hook for a nil Observer")
	}
}
