package main

import (
	"context"
	"fmt"
	"io"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
)

// report waits for every message to reach both clients, counts what was
// lost, duplicated or reordered, and says what the run showed: with the
// embedded server, delivery across a forced drop; with -url, only what it
// did, since it could not force one.
func report(ctx context.Context, out io.Writer, srv *mock.Server, clients []*realtime.Client, got []*inbox, cfg config, res *result) error {
	k := len(clients)
	res.resent = make([]uint64, k)
	res.disconnects = make([]uint64, k)
	res.lost, res.dup, res.order = make([]int, k), make([]int, k), make([]int, k)
	var resent, disconnects uint64
	broken := false
	for i, name := range names {
		if err := got[i].wait(ctx, k*cfg.n); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		st := clients[i].Stats()
		res.resent[i], res.disconnects[i] = st.Resent, st.Disconnects
		resent, disconnects = resent+st.Resent, disconnects+st.Disconnects
		res.lost[i], res.dup[i], res.order[i] = got[i].check(names, cfg.n)
		fmt.Fprintf(out, "%-5s %d publishes acknowledged (%d of them resent); received %d: %d lost, %d duplicated, %d out of order\n",
			name, st.Acked, st.Resent, got[i].len(), res.lost[i], res.dup[i], res.order[i])
		broken = broken || res.lost[i]+res.dup[i]+res.order[i] > 0
	}
	if srv != nil {
		res.stored, res.storedDup = stored(srv)
		fmt.Fprintf(out, "server  stored %d publishes, %d of them twice\n", res.stored, res.storedDup)
		broken = broken || res.stored != k*cfg.n || res.storedDup > 0
	}
	if broken {
		return fmt.Errorf("delivery broken")
	}
	if srv != nil {
		total := 0
		for _, n := range res.inFlight {
			total += n
		}
		fmt.Fprintf(out, "done: %d publishes were in flight when every connection dropped; every message was delivered exactly once, in order\n", total)
		return nil
	}
	fmt.Fprintf(out, "tested against %s, on channel %s: %d clients each published %d messages, up to %d in flight at once; all acknowledged, and each client received all %d exactly once, in order\n",
		safeURL(cfg.url), cfg.channel, k, cfg.n, cfg.window, k*cfg.n)
	if disconnects == 0 {
		fmt.Fprintln(out, "not tested: delivery across a dropped connection; no connection dropped, and only the embedded server can force a drop (run without -url)")
		return nil
	}
	fmt.Fprintf(out, "not forced: a drop with every client's window in flight, which only the embedded server can arrange (run without -url); the connections dropped %d times on their own, %d publishes were resent, and the counts above held across those drops\n",
		disconnects, resent)
	return nil
}

// stored counts the publishes the server recorded, and those it recorded
// more than once.
func stored(srv *mock.Server) (n, twice int) {
	seen := map[string]bool{}
	for _, m := range srv.Received() {
		if seen[string(m.Data)] {
			twice++
		}
		seen[string(m.Data)] = true
	}
	return len(seen) + twice, twice
}
