package server_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/server"
)

// countingBroker counts the node's subscriptions at the broker.
type countingBroker struct {
	*server.LocalBroker
	subs, unsubs atomic.Int32
}

func (b *countingBroker) Subscribe(ctx context.Context, ch string, d func(server.Message)) error {
	b.subs.Add(1)
	return b.LocalBroker.Subscribe(ctx, ch, d)
}

func (b *countingBroker) Unsubscribe(ctx context.Context, ch string) error {
	b.unsubs.Add(1)
	return b.LocalBroker.Unsubscribe(ctx, ch)
}

// The node subscribes to a channel at the broker once, however many of
// its sessions subscribe, and fans each publication out to all of them.
func TestOneBrokerSubscriptionPerChannel(t *testing.T) {
	b := &countingBroker{LocalBroker: server.NewLocalBroker()}
	srv, url := start(t, server.Config{Broker: b})
	var clients []*client
	for range 3 {
		c, _ := open(t, url)
		c.send(sub(1, "c"))
		c.ack(1)
		clients = append(clients, c)
	}
	if n := b.subs.Load(); n != 1 {
		t.Fatalf("%d broker subscriptions for one channel, want 1", n)
	}
	if st := srv.Stats(); st.Channels != 1 {
		t.Fatalf("Stats().Channels %d, want 1", st.Channels)
	}
	publishN(t, srv, "c", 2)
	for _, c := range clients {
		for _, want := range []string{"0", "1"} {
			if m := c.expect(codec.TypeMessage); string(m.Data) != want {
				t.Fatalf("got %q, want %q", m.Data, want)
			}
		}
	}
	for i, c := range clients {
		c.send(codec.Frame{Type: codec.TypeUnsub, Seq: 2, Channel: "c"})
		c.ack(2)
		if want := int32(0); i == len(clients)-1 {
			want = 1
			if n := b.unsubs.Load(); n != want {
				t.Fatalf("after the last unsubscribe: %d broker unsubscribes, want 1", n)
			}
		} else if n := b.unsubs.Load(); n != want {
			t.Fatalf("after unsubscribe %d of %d: %d broker unsubscribes, want 0", i+1, len(clients), n)
		}
	}
	if st := srv.Stats(); st.Channels != 0 {
		t.Fatalf("Stats().Channels %d after every unsubscribe, want 0", st.Channels)
	}
}
