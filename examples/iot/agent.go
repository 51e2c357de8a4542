package main

import (
	"context"
	"fmt"
	"io"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/store/filestore"
)

// agent is the publishing client, with its file store when it has one.
type agent struct {
	cfg config
	out io.Writer
	c   *realtime.Client
	st  *filestore.Store // nil without -store
}

// start makes the client (opening the store first) and connects it; with
// wait false it only starts connecting, as a device that boots while the
// network is down must not wait for it.
func (a *agent) start(ctx context.Context, wait bool) error {
	opts := &realtime.Options{
		OutboxCount:  outboxCount,
		OutboxBytes:  outboxCount * 256,
		OutboxPolicy: realtime.DropOldest,
		Reconnect:    reconnectPolicy,
		OnStateChange: func(ch realtime.StateChange) {
			fmt.Fprintf(a.out, "agent state %s -> %s (%s)\n", ch.From, ch.To, ch.Reason)
		},
	}
	if a.cfg.store != "" {
		st, err := filestore.Open(a.cfg.store, nil)
		if err != nil {
			// A directory that cannot be opened at all (not one that is
			// damaged: that opens, and what was cut is in Stats) is set
			// aside, so that the agent keeps working.
			aside, merr := filestore.MoveAside(a.cfg.store)
			if merr != nil {
				return fmt.Errorf("%w (and moving it aside: %w)", err, merr)
			}
			fmt.Fprintf(a.out, "store unusable (%v): moved aside to %s\n", err, aside)
			if st, err = filestore.Open(a.cfg.store, nil); err != nil {
				return err
			}
		}
		a.st = st
		opts.Store = st
		// On disk the outbox can hold much more than in a device's memory.
		opts.OutboxCount, opts.OutboxBytes = realtime.DefaultOutboxCount, 0
	}
	c, err := realtime.New(a.cfg.url, opts)
	if err != nil {
		a.closeStore()
		return err
	}
	a.c = c
	if !wait {
		// Connect starts the connection loop and returns when ctx ends;
		// the client keeps connecting in the background.
		now, cancel := context.WithCancel(ctx)
		cancel()
		_ = c.Connect(now)
		return nil
	}
	return c.Connect(ctx)
}

// restart stops the agent as a reboot would and starts it again on the
// same store.
func (a *agent) restart(ctx context.Context, res *result) error {
	a.stop()
	if err := a.start(ctx, false); err != nil {
		return err
	}
	res.restored = a.c.Stats().Restored
	fmt.Fprintf(a.out, "agent restarted in the middle of the outage: %d readings came back from the store\n", res.restored)
	return nil
}

func (a *agent) stop() {
	a.c.Close()
	a.closeStore()
}

func (a *agent) closeStore() {
	if a.st != nil {
		a.st.Close()
		a.st = nil
	}
}
