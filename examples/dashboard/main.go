// Command dashboard is a live view fed by the server: it subscribes to a
// stream of updates, shows which transport carries them, and keeps
// receiving while a network that blocks WebSocket makes it start on SSE and
// then, once WebSocket gets through, moves the live session onto it with no
// update lost or repeated.
//
//	go run ./examples/dashboard
//
// By default it starts the embedded mock server, refuses WebSocket there
// (as a proxy answering 403 would), pushes updates and lifts the refusal
// partway. Given -url it shows what a running server pushes on -channel.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
)

func main() {
	url := flag.String("url", "", "base URL of a running server (default: start the embedded mock server)")
	channel := flag.String("channel", "metrics", "channel the updates come on")
	n := flag.Int("n", 60, "updates to receive before exiting")
	every := flag.Duration("every", 50*time.Millisecond, "time between the embedded server's updates")
	upgrade := flag.Duration("upgrade", 500*time.Millisecond, "how often the client on SSE tries WebSocket again")
	flag.Parse()
	cfg := config{url: *url, channel: *channel, updates: *n, every: *every, upgrade: *upgrade}
	if err := run(cfg, os.Stdout); err != nil {
		log.SetFlags(0)
		log.Fatal("dashboard: ", err)
	}
}

type config struct {
	url     string
	channel string
	updates int
	every   time.Duration
	upgrade time.Duration
}

func run(cfg config, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out = &lockedWriter{w: out}
	var srv *mock.Server
	if cfg.url == "" {
		srv = mock.NewServer(nil)
		defer srv.Close()
		cfg.url = srv.URL()
		fmt.Fprintln(out, "mock server listening at", cfg.url)
		fmt.Fprintln(out, "server  refusing websocket with 403")
		srv.RefuseTransport("websocket", 403)
	}

	view := &view{out: out, want: cfg.updates, done: make(chan struct{}), upgraded: make(chan struct{})}
	c, err := realtime.New(cfg.url, &realtime.Options{
		UpgradeInterval: cfg.upgrade,
		OnStateChange:   view.state,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "client  connected over", c.Transport())
	if _, err := c.Subscribe(ctx, cfg.channel, view.update); err != nil {
		return err
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	if srv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			push(pctx, srv, cfg, out)
		}()
	}

	select {
	case <-view.done:
	case <-ctx.Done():
		return fmt.Errorf("received %d of %d updates: %w", view.count(), cfg.updates, ctx.Err())
	}
	if srv == nil {
		fmt.Fprintf(out, "client  received %d updates, now over %s\n", cfg.updates, c.Transport())
		return nil
	}
	// The point of the embedded run is the move to WebSocket; should the
	// updates end before it, wait for it rather than exit on SSE.
	select {
	case <-view.upgraded:
	case <-ctx.Done():
		return fmt.Errorf("still on %s: %w", c.Transport(), ctx.Err())
	}
	if err := view.result(); err != nil {
		return err
	}
	fmt.Fprintf(out, "client  received %d updates in order, none missing, now over %s\n", cfg.updates, c.Transport())
	return nil
}

// push plays the server's side: a numbered update every cfg.every, and the
// WebSocket refusal lifted a third of the way in so the client can upgrade
// while updates flow.
func push(ctx context.Context, srv *mock.Server, cfg config, out io.Writer) {
	t := time.NewTicker(cfg.every)
	defer t.Stop()
	for i := range cfg.updates {
		if i == cfg.updates/3 {
			fmt.Fprintln(out, "server  serving websocket again")
			srv.RefuseTransport("websocket", 0)
		}
		if err := srv.Publish(ctx, cfg.channel, strconv.AppendInt(nil, int64(i), 10)); err != nil {
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// view is the dashboard's screen: it prints every tenth update and each
// change of transport, and checks the updates arrive numbered 0, 1, 2, …
// Its methods run on the client's dispatcher, one at a time.
type view struct {
	out  io.Writer
	want int

	mu       sync.Mutex
	next     int
	err      error
	done     chan struct{}
	upgraded chan struct{} // closed once on WebSocket after starting elsewhere
	started  string
}

func (v *view) update(m realtime.Message) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.next >= v.want {
		return
	}
	if n, err := strconv.Atoi(string(m.Data)); err == nil && n != v.next && v.err == nil {
		v.err = fmt.Errorf("update %d arrived when %d was due", n, v.next)
	}
	if v.next%10 == 0 {
		fmt.Fprintf(v.out, "client  update %s\n", m.Data)
	}
	v.next++
	if v.next == v.want {
		close(v.done)
	}
}

func (v *view) result() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

func (v *view) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.next
}

func (v *view) state(ch realtime.StateChange) {
	note := ""
	if ch.Transport != "" {
		note = " over " + ch.Transport
	}
	fmt.Fprintf(v.out, "client  state %s -> %s (%s)%s\n", ch.From, ch.To, ch.Reason, note)
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case ch.Transport == "":
	case v.started == "":
		v.started = ch.Transport
	case ch.Transport == "websocket" && v.started != "websocket":
		v.started = "websocket"
		close(v.upgraded)
	}
}

// lockedWriter serialises writes: the dispatcher prints updates while the
// server's goroutine prints what it does.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
