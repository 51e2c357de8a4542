// Command iot is a telemetry agent: it publishes a sensor reading every
// interval without waiting for the server, keeps publishing into a small
// bounded outbox while the network is down, and catches up when it comes
// back. The outbox drops the oldest unsent reading when full, because for
// telemetry the latest reading matters most.
//
//	go run ./examples/iot
//
// By default it starts the embedded mock server and forces an outage
// halfway through. Given -url it talks to a running server and an outage is
// whatever the network does. Build with -tags nomock to leave the mock
// server out of a device binary.
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
	url := flag.String("url", "", "base URL of a running server (default: start the embedded mock server)")
	n := flag.Int("n", 40, "readings to publish")
	interval := flag.Duration("interval", 100*time.Millisecond, "time between readings")
	outage := flag.Int("outage", 10, "readings published during the forced outage (embedded server only)")
	flag.Parse()
	cfg := config{url: *url, readings: *n, interval: *interval, outage: *outage}
	if err := run(cfg, os.Stdout); err != nil {
		log.SetFlags(0)
		log.Fatal("iot: ", err)
	}
}

type config struct {
	url      string
	readings int
	interval time.Duration
	outage   int // readings during the forced outage
}

// outboxCount is small on purpose: a device has little memory, and a
// reading older than a few seconds is worth less than a fresh one.
const outboxCount = 64

func run(cfg config, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out = &lockedWriter{w: out}
	var nw network
	if cfg.url == "" {
		n, err := startEmbedded(out)
		if err != nil {
			return err
		}
		defer n.close()
		cfg.url, nw = n.url(), n
	}

	c, err := realtime.New(cfg.url, &realtime.Options{
		OutboxCount:  outboxCount,
		OutboxBytes:  outboxCount * 256,
		OutboxPolicy: realtime.DropOldest,
		// A short cap brings the agent back soon after the network does,
		// rather than up to 30 s later.
		Reconnect: reconnect.Policy{BaseDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second},
		OnStateChange: func(ch realtime.StateChange) {
			fmt.Fprintf(out, "state %s -> %s (%s)\n", ch.From, ch.To, ch.Reason)
		},
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "agent connected over", c.Transport())

	receipts := make([]*realtime.Receipt, 0, cfg.readings)
	offline, refused := 0, 0
	outageStart := (cfg.readings - cfg.outage) / 2
	tick := time.NewTicker(cfg.interval)
	defer tick.Stop()
	for i := range cfg.readings {
		if nw != nil && i == outageStart && cfg.outage > 0 {
			fmt.Fprintln(out, "network down")
			nw.down()
			// Wait until the agent has noticed, so the count of readings
			// queued while offline is exact.
			c.WaitForStateChange(ctx, realtime.StateConnected)
		}
		if nw != nil && i == outageStart+cfg.outage {
			fmt.Fprintln(out, "network up")
			nw.up()
		}
		if c.State() != realtime.StateConnected {
			offline++
		}
		r, err := c.PublishAsync("telemetry", reading(i))
		switch {
		case errors.Is(err, realtime.ErrOutboxFull):
			// Drop-oldest makes room from readings not yet sent; when every
			// slot holds a reading already sent and awaiting its ack, the new
			// one is the one dropped.
			refused++
		case err != nil:
			return fmt.Errorf("reading %d: %w", i, err)
		default:
			receipts = append(receipts, r)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fmt.Fprintf(out, "published %d readings, %d of them queued while offline\n", cfg.readings, offline)

	acked, dropped := 0, refused
	for i, r := range receipts {
		switch err := r.Wait(ctx); {
		case err == nil:
			acked++
		case errors.Is(err, realtime.ErrOutboxFull):
			dropped++
		default:
			return fmt.Errorf("reading %d: %w", i, err)
		}
	}
	fmt.Fprintf(out, "acknowledged %d of %d readings (%d dropped to make room)\n", acked, cfg.readings, dropped)
	if nw != nil {
		if err := nw.check(ctx, acked); err != nil {
			return err
		}
	}
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
