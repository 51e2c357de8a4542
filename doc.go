// Package realtime is a realtime client that keeps working where
// WebSockets do not: it negotiates the best transport (WebSocket, then
// Server-Sent Events, then HTTP long polling), keeps its session across
// drops and transport switches, and acknowledges every message in both
// directions so that nothing is lost, duplicated or reordered.
//
// # Use
//
// A complete program (examples/hello; README.md's first program): it
// connects, subscribes, publishes one message, prints it when it comes
// back, and exits.
//
//	package main
//
//	import (
//		"context"
//		"fmt"
//		"log"
//		"time"
//
//		"github.com/realtimekit/realtime"
//	)
//
//	func main() {
//		// Without a deadline, Connect retries an unreachable server for ever.
//		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
//		defer cancel()
//		c, err := realtime.New("https://example.com/rt", nil) // no I/O yet
//		if err != nil {
//			log.Fatal(err)
//		}
//		defer c.Close()
//		if err := c.Connect(ctx); err != nil {
//			log.Fatal(err)
//		}
//		got := make(chan realtime.Message, 1)
//		_, err = c.Subscribe(ctx, "chat", func(m realtime.Message) {
//			select {
//			case got <- m:
//			default: // never block for ever: Close waits for a running handler
//			}
//		})
//		if err != nil {
//			log.Fatal(err)
//		}
//		// Returns once the server has acknowledged the message, or refused it.
//		if err := c.Publish(ctx, "chat", []byte("hello")); err != nil {
//			log.Fatal(err)
//		}
//		select {
//		case m := <-got:
//			fmt.Printf("%s: %s\n", m.Channel, m.Data)
//		case <-ctx.Done():
//			log.Fatal("no message back: ", ctx.Err())
//		}
//	}
//
// # Delivery
//
// Every publish carries a sequence number; the client keeps it until the
// server acknowledges it and resends it after a reconnect; the server drops
// what it has already seen. Publish returns nil once acknowledged, a
// *RefusedError when the server refuses it, or ctx's error. Every delivered
// message carries a sequence number too; the client drops duplicates,
// delivers in order, repairs gaps by resuming, and acknowledges a message
// once its handler has returned. When the server cannot resume a session,
// the client says so (a StateChange with ContinuityLost set) instead of
// carrying on silently.
//
// # Subscriptions and shutting down
//
// Subscribe returns a *Subscription. A channel may have several, each
// with its own handler, or, made with a nil handler, read with a range
// loop over Subscription.Messages; each sees every message once, in
// order, and they share one subscription on the server. Close ends the
// client at once, failing unacknowledged publishes with ErrClosed; Drain
// first lets what is in flight finish, within ctx's deadline.
//
// # Goroutines
//
// New starts nothing. Connect starts the connection loop, which also
// writes. Each live connection adds the client's reader and whatever its
// transport runs (SSE and long polling read their HTTP responses on
// goroutines of their own, and net/http keeps one per open connection).
// While the client is on a lesser transport, the upgrade probe adds one.
// The dispatcher's goroutine runs only while messages or state changes
// wait for it. Close stops them all and waits. Handlers and
// Options.OnStateChange run on the dispatcher, one at a time, in order,
// never under a lock; the dispatcher waits for a Messages loop body as for
// a handler.
//
// # Bounds
//
// Whatever the server does, a client makes at most MaxConnectsPerMinute
// connection attempts in any minute (20 at once, then one each 600 ms). A
// connection that dies before it worked (it stayed up less than twice the
// heartbeat, within [5 s, 1 min], and nothing sent on it was acknowledged)
// is a failed attempt: the backoff grows and Reconnect.Budget keeps
// running. Frames sent and not acknowledged for twice the heartbeat plus
// its grace end the connection. Messages waiting for handlers are those of
// the current session only, at most the protocol window (1024).
//
// The wire protocol is specified in docs/PROTOCOL.md. Package mock serves it
// in-process for tests.
package realtime
