// Command demo shows the SDK end to end with no setup: it starts the
// embedded mock server, connects two clients that publish to each other
// concurrently, many messages in flight at once, and drops every
// connection while each client has a full window of publishes sent but not
// acknowledged. The sessions resume, the clients resend what was not
// acknowledged, the server drops what it already had, and every message
// arrives exactly once, in order.
//
//	go run ./examples/demo
//
// Given -url it talks to a running server instead. It cannot force a drop
// there, so it says what it tested and what it did not.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
)

func main() {
	cfg := config{}
	flag.StringVar(&cfg.url, "url", "", "base URL of a running server (default: start the embedded mock server)")
	flag.IntVar(&cfg.n, "n", 1000, "messages each client publishes")
	flag.IntVar(&cfg.window, "window", 64, "publishes each client keeps in flight")
	flag.Parse()
	if _, err := run(cfg, os.Stdout); err != nil {
		log.SetFlags(0)
		log.Fatal("demo: ", err)
	}
}

type config struct {
	url       string
	n, window int
	channel   string // set by run
}

var names = []string{"alice", "bob"}

// result is what a run counted, per client (in the order of names).
type result struct {
	inFlight          []int // publishes not acknowledged when the drop hit
	resent            []uint64
	disconnects       []uint64
	lost, dup, order  []int
	stored, storedDup int // the embedded server's record of publishes
}

func run(cfg config, out io.Writer) (*result, error) {
	if cfg.n < 1 || cfg.window < 1 {
		return nil, errors.New("-n and -window must be at least 1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out = &lockedWriter{w: out}
	// On a server of its own the channel is chat; on a shared one, a
	// channel of this run's own, so other traffic cannot skew the counts.
	cfg.channel = "chat"
	if cfg.url != "" {
		cfg.channel = fmt.Sprintf("demo-%08x", rand.Uint32())
	}
	var srv *mock.Server
	var wire *relay
	if cfg.url == "" {
		srv = mock.NewServer(nil)
		defer srv.Close()
		u, _ := url.Parse(srv.URL())
		var err error
		if wire, err = newRelay(u.Host); err != nil {
			return nil, err
		}
		defer wire.close()
		cfg.url = wire.url()
		fmt.Fprintf(out, "mock server listening at %s, reached through a network relay at %s\n", srv.URL(), cfg.url)
	}

	clients := make([]*realtime.Client, len(names))
	got := make([]*inbox, len(names))
	for i, name := range names {
		c, err := realtime.New(cfg.url, &realtime.Options{OnStateChange: func(ch realtime.StateChange) {
			fmt.Fprintf(out, "%-5s state %s -> %s (%s)%s\n", name, ch.From, ch.To, ch.Reason, transportNote(ch))
		}})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		if err := c.Connect(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(out, "%-5s connected over %s\n", name, c.Transport())
		got[i] = &inbox{}
		if _, err := c.Subscribe(ctx, cfg.channel, got[i].add); err != nil {
			return nil, err
		}
		clients[i] = c
	}

	res := &result{inFlight: make([]int, len(names))}
	var p *pause
	if srv != nil {
		p = &pause{resume: make(chan struct{})}
		p.arrive.Add(len(clients))
	}
	// One failure ends the rest: a publisher held at the pause, or the
	// drop waiting for its publishes.
	pctx, fail := context.WithCancel(ctx)
	defer fail()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(clients)+1)
	for i, c := range clients {
		wg.Go(func() {
			if errs[i] = publish(pctx, c, cfg.channel, names[i], cfg.n, cfg.window, p); errs[i] != nil {
				fail()
			}
		})
	}
	if p != nil {
		if errs[len(clients)] = forceDrop(pctx, out, wire, clients, cfg, p, res); errs[len(clients)] != nil {
			fail()
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "both  %d publishes acknowledged in %v\n", 2*cfg.n, time.Since(start).Round(time.Millisecond))
	return res, report(ctx, out, srv, clients, got, cfg, res)
}

// forceDrop waits until both publishers are at their halfway mark with
// nothing in flight, makes the network lose what the clients send, lets
// each publisher fill its window, and once the clients have sent all of
// it, breaks every connection: each client then has a full window sent
// but never received, to resend after it resumes.
func forceDrop(ctx context.Context, out io.Writer, wire *relay, clients []*realtime.Client, cfg config, p *pause, res *result) error {
	p.arrive.Wait() // each publisher arrives, or has failed
	if ctx.Err() != nil {
		return nil // a publisher failed and says why
	}
	burst := uint64(min(cfg.window, cfg.n-cfg.n/2))
	sent := make([]uint64, len(clients))
	for i, c := range clients {
		sent[i] = c.Stats().Sent
	}
	fmt.Fprintf(out, "network losing what the clients send: each client's next %d publishes go nowhere\n", burst)
	wire.hold()
	close(p.resume)
	// The clients' sends succeed, so no event marks the moment they have
	// all gone: poll the counters.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(clients); {
		if clients[i].Stats().Sent-sent[i] >= burst {
			i++
			continue
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s's publishes to be sent: %w", names[i], ctx.Err())
		}
	}
	total := 0
	for i, c := range clients {
		res.inFlight[i] = c.Stats().OutboxCount
		total += res.inFlight[i]
	}
	fmt.Fprintf(out, "network breaking every connection, %d publishes in flight (alice %d, bob %d)\n",
		total, res.inFlight[0], res.inFlight[1])
	wire.cut()
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

// safeURL shows a URL without its user info, query or fragment, which may
// carry credentials.
func safeURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "the server given with -url"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// lockedWriter serialises writes: state changes are printed from each
// client's dispatcher while run prints from its own goroutine.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
