// Command iot is a telemetry agent: it publishes a sensor reading every
// interval without waiting for the server, keeps publishing into a small
// bounded outbox while the network is down, and catches up when it comes
// back. The outbox drops the oldest unsent reading when full, because for
// telemetry the latest reading matters most.
//
//	go run ./examples/iot
//
// By default it starts the embedded mock server and forces an outage of
// more readings than the outbox holds, so the oldest unsent readings are
// dropped; a second client, the collector, shows that every reading not
// dropped arrived exactly once, in order. Given -url it talks to a running
// server and an outage is whatever the network does. Build with -tags
// nomock to leave the mock server out of a device binary.
//
// Given -store DIR the outbox and the session live in a file store in DIR
// (package store/filestore), so they survive a crash or a power cut; the
// outbox on disk holds 4096 readings, so an outage drops none. With the
// embedded server the agent then restarts in the middle of the outage, as
// a device that reboots does: a new client on the same store sends what
// the old one had queued, and every reading arrives exactly once.
//
//	go run ./examples/iot -store /tmp/iot-store
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/reconnect"
)

func main() {
	cfg := defaults()
	flag.StringVar(&cfg.url, "url", "", "base URL of a running server (default: start the embedded mock server)")
	flag.IntVar(&cfg.readings, "n", cfg.readings, "readings to publish")
	flag.DurationVar(&cfg.interval, "interval", cfg.interval, "time between readings")
	flag.IntVar(&cfg.outage, "outage", cfg.outage, "readings published during the forced outage (embedded server only)")
	flag.StringVar(&cfg.store, "store", "", "directory of a file store for the outbox and session (default: memory only)")
	flag.Parse()
	if _, err := run(cfg, os.Stdout); err != nil {
		log.SetFlags(0)
		log.Fatal("iot: ", err)
	}
}

type config struct {
	url      string
	readings int
	interval time.Duration
	outage   int    // readings during the forced outage
	store    string // the file store's directory; "" for memory only
}

// defaults are the flags' defaults: an outage of more readings than the
// outbox holds, so that drop-oldest shows, in about three seconds.
func defaults() config {
	return config{readings: 150, interval: 20 * time.Millisecond, outage: 100}
}

// outboxCount is small on purpose: a device has little memory, and a
// reading older than a few seconds is worth less than a fresh one.
const outboxCount = 64

// result is what a run counted; run fails unless received is exactly
// published minus dropped, each once, in order.
type result struct {
	published, offline, dropped, acked int
	received, duplicates, outOfOrder   int
	restored                           int // readings a restart took over from the store
}

// reconnectPolicy brings a client back soon after the network does, rather
// than up to 30 s later.
var reconnectPolicy = reconnect.Policy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}

func run(cfg config, out io.Writer) (res result, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out = &lockedWriter{w: out}
	var nw network
	if cfg.url == "" {
		n, err := startEmbedded(out)
		if err != nil {
			return res, err
		}
		defer n.close()
		cfg.url, nw = n.url(), n
	}

	// The collector subscribes first, so it sees every reading.
	col := &collector{}
	cc, err := realtime.New(cfg.url, &realtime.Options{Reconnect: reconnectPolicy})
	if err != nil {
		return res, err
	}
	defer cc.Close()
	if err := cc.Connect(ctx); err != nil {
		return res, fmt.Errorf("collector: %w", err)
	}
	if _, err := cc.Subscribe(ctx, "telemetry", col.add); err != nil {
		return res, fmt.Errorf("collector: %w", err)
	}
	fmt.Fprintln(out, "collector subscribed to telemetry")

	a := &agent{cfg: cfg, out: out}
	if err := a.start(ctx, true); err != nil {
		return res, err
	}
	defer a.stop()
	fmt.Fprintln(out, "agent connected over", a.c.Transport())

	receipts := make([]*realtime.Receipt, cfg.readings) // nil: refused at once
	outageStart := (cfg.readings - cfg.outage) / 2
	restartAt := -1 // a reboot in the middle of the outage, with a store
	if nw != nil && cfg.store != "" && cfg.outage > 1 {
		restartAt = outageStart + cfg.outage/2
	}
	tick := time.NewTicker(cfg.interval)
	defer tick.Stop()
	for i := range cfg.readings {
		if nw != nil && i == outageStart && cfg.outage > 0 {
			fmt.Fprintf(out, "network down for the next %d readings (the outbox holds %d)\n", cfg.outage, outboxCount)
			nw.down()
			// Wait until the agent has noticed, so the count of readings
			// queued while offline is exact.
			a.c.WaitForStateChange(ctx, realtime.StateConnected)
		}
		if i == restartAt {
			if err := a.restart(ctx, &res); err != nil {
				return res, err
			}
		}
		if nw != nil && i == outageStart+cfg.outage {
			fmt.Fprintln(out, "network up")
			nw.up()
		}
		if a.c.State() != realtime.StateConnected {
			res.offline++
		}
		r, err := a.c.PublishAsync("telemetry", reading(i))
		switch {
		case errors.Is(err, realtime.ErrOutboxFull):
			// Drop-oldest makes room from readings not yet sent; when every
			// slot holds a reading already sent and awaiting its ack, the new
			// one is the one dropped.
			res.dropped++
		case err != nil:
			return res, fmt.Errorf("reading %d: %w", i, err)
		default:
			receipts[i] = r
		}
		res.published++
		select {
		case <-tick.C:
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	fmt.Fprintf(out, "published %d readings, %d of them while offline\n", res.published, res.offline)

	acked := make([]bool, cfg.readings)
	for i, r := range receipts {
		if r == nil {
			continue
		}
		switch err := r.Wait(ctx); {
		case err == nil:
			acked[i] = true
			res.acked++
		case errors.Is(err, realtime.ErrOutboxFull):
			res.dropped++
		case errors.Is(err, realtime.ErrClosed) && cfg.store != "":
			// Queued when the agent restarted: the store handed it to
			// the next client, which sent it.
			acked[i] = true
			res.acked++
		default:
			return res, fmt.Errorf("reading %d: %w", i, err)
		}
	}
	fmt.Fprintf(out, "dropped %d readings to make room (the oldest not yet sent), acknowledged %d\n", res.dropped, res.acked)
	return res, verify(ctx, out, col, acked, nw, &res)
}

// verify waits for the collector to receive every acknowledged reading and
// checks that each arrived once, in order, and nothing else did.
func verify(ctx context.Context, out io.Writer, col *collector, acked []bool, nw network, res *result) error {
	if err := col.wait(ctx, res.acked); err != nil {
		return err
	}
	if nw != nil {
		// The server's own record: each acknowledged reading stored once.
		if err := nw.check(ctx, res.acked); err != nil {
			return err
		}
	}
	var unexpected, missing int
	res.received, res.duplicates, res.outOfOrder, unexpected, missing = col.check(acked)
	if res.received != res.published-res.dropped || res.duplicates+res.outOfOrder+unexpected+missing > 0 {
		return fmt.Errorf("collector received %d readings, want %d - %d dropped: %d twice, %d out of order, %d not acknowledged, %d acknowledged but missing",
			res.received, res.published, res.dropped, res.duplicates, res.outOfOrder, unexpected, missing)
	}
	fmt.Fprintf(out, "collector received %d readings = %d published - %d dropped, each exactly once, in order\n",
		res.received, res.published, res.dropped)
	return nil
}

// reading is a fake sensor value, small like a real one.
func reading(i int) []byte {
	return fmt.Appendf(nil, `{"n":%d,"t":%.1f}`, i, 20+float64(i%10)/10)
}

// network is the embedded server's fault switch; nil when talking to a
// real server.
type network interface {
	url() string
	down()
	up()
	check(ctx context.Context, n int) error
	close()
}

// lockedWriter serialises writes: state changes are printed from the
// client's dispatcher while the agent prints from its own goroutine.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
