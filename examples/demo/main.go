// Command demo shows the SDK end to end with no setup: it starts the
// embedded mock server, connects two clients, publishes acknowledged
// messages between them, drops every connection mid-stream and shows that
// the session resumes with nothing lost, duplicated or reordered.
//
//	go run ./examples/demo
//
// Given -url it talks to a running server instead of the embedded one.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
)

func main() {
	url := flag.String("url", "", "base URL of a running server (default: start the embedded mock server)")
	n := flag.Int("n", 1000, "messages each client publishes")
	flag.Parse()
	if err := run(*url, *n); err != nil {
		log.SetFlags(0)
		log.Fatal("demo: ", err)
	}
}

func run(url string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var srv *mock.Server
	if url == "" {
		srv = mock.NewServer(nil)
		defer srv.Close()
		url = srv.URL()
		fmt.Println("mock server listening at", url)
	}

	names := []string{"alice", "bob"}
	clients := make([]*realtime.Client, len(names))
	got := make([]*inbox, len(names))
	for i, name := range names {
		c, err := realtime.New(url, &realtime.Options{OnStateChange: func(ch realtime.StateChange) {
			fmt.Printf("%-5s state %s -> %s (%s)%s\n", name, ch.From, ch.To, ch.Reason, transportNote(ch))
		}})
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Connect(ctx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Printf("%-5s connected over %s\n", name, c.Transport())
		got[i] = &inbox{}
		if err := c.Subscribe(ctx, "chat", got[i].add); err != nil {
			return err
		}
		clients[i] = c
	}

	// Each client publishes n messages; Publish returns once acknowledged.
	// Halfway through, the server drops every connection: the clients
	// reconnect, resume their sessions and resend what was not acknowledged.
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range n {
				if srv != nil && i == 0 && k == n/2 {
					fmt.Println("server  dropping every connection")
					srv.DropConnections()
				}
				msg := fmt.Sprintf("%s #%d", names[i], k)
				if err := c.Publish(ctx, "chat", []byte(msg)); err != nil {
					errs <- fmt.Errorf("%s: publish %d: %w", names[i], k, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("both    %d publishes acknowledged in %v\n", 2*n, time.Since(start).Round(time.Millisecond))

	for i, name := range names {
		if err := got[i].wait(ctx, 2*n); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		lost, dup, order := got[i].check(names, n)
		fmt.Printf("%-5s received %d messages: %d lost, %d duplicated, %d out of order\n", name, got[i].len(), lost, dup, order)
		if lost+dup+order > 0 {
			return fmt.Errorf("%s: delivery broken", name)
		}
	}
	fmt.Println("done: every message delivered exactly once, in order")
	return nil
}

func transportNote(ch realtime.StateChange) string {
	if ch.Transport != "" {
		return " over " + ch.Transport
	}
	if ch.Err != nil {
		return ": " + ch.Err.Error()
	}
	return ""
}

// inbox records deliveries; handlers run on one goroutine, but the main
// goroutine reads it, hence the lock.
type inbox struct {
	mu   sync.Mutex
	msgs []string
	more chan struct{}
}

func (b *inbox) add(m realtime.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, string(m.Data))
	if b.more != nil {
		close(b.more)
		b.more = nil
	}
	b.mu.Unlock()
}

func (b *inbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

func (b *inbox) wait(ctx context.Context, n int) error {
	for {
		b.mu.Lock()
		if len(b.msgs) >= n {
			b.mu.Unlock()
			return nil
		}
		if b.more == nil {
			b.more = make(chan struct{})
		}
		more := b.more
		b.mu.Unlock()
		select {
		case <-more:
		case <-ctx.Done():
			return fmt.Errorf("received %d of %d messages: %w", b.len(), n, ctx.Err())
		}
	}
}

// check counts, per sender, messages missing, seen twice, or seen before
// an earlier one.
func (b *inbox) check(senders []string, n int) (lost, dup, order int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	next := map[string]int{}
	seen := map[string]bool{}
	for _, m := range b.msgs {
		var who string
		var k int
		if _, err := fmt.Sscanf(m, "%s #%d", &who, &k); err != nil {
			fmt.Fprintln(os.Stderr, "unexpected message:", m)
			continue
		}
		if seen[m] {
			dup++
			continue
		}
		seen[m] = true
		if k != next[who] {
			order++
		}
		next[who] = k + 1
	}
	for _, s := range senders {
		for k := range n {
			if !seen[fmt.Sprintf("%s #%d", s, k)] {
				lost++
			}
		}
	}
	return lost, dup, order
}
