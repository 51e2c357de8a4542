package brokertest

import (
	"testing"
	"time"

	"github.com/realtimekit/realtime/server"
)

// testMetadata checks that a publication's metadata crosses the broker
// as it was published: Time (to the millisecond), From and Header; and
// that one published without any arrives without any.
func testMetadata(t *testing.T, b server.Broker) {
	closeAtEnd(t, b)
	ctx := testCtx(t)
	got := make(chan server.Message, 2)
	if err := b.Subscribe(ctx, "meta", func(m server.Message) { got <- m }); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	at := time.UnixMilli(time.Now().UnixMilli())
	header := map[string]string{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"multi\tline": "a\r\nb: c", "ü": "",
	}
	sent := []server.Message{
		{Channel: "meta", Data: []byte("with"), Time: at, From: "user: ü\r\n", Header: header},
		{Channel: "meta", Data: []byte("without")},
	}
	for _, m := range sent {
		if err := b.Publish(ctx, m); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	for _, want := range sent {
		var m server.Message
		select {
		case m = <-got:
		case <-ctx.Done():
			t.Fatalf("%q not delivered", want.Data)
		}
		if string(m.Data) != string(want.Data) || !m.Time.Equal(want.Time) || m.From != want.From || !sameHeader(m.Header, want.Header) {
			t.Errorf("delivered %q time %v from %q header %q; want time %v from %q header %q",
				m.Data, m.Time, m.From, m.Header, want.Time, want.From, want.Header)
		}
		if want.Header == nil && m.Header != nil {
			t.Errorf("delivered header %q, want nil", m.Header)
		}
	}
}

func sameHeader(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
