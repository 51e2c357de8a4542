//go:build !nomock

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/realtimekit/realtime/mock"
)

var transports = []string{"websocket", "sse", "longpoll"}

type embedded struct{ srv *mock.Server }

func startEmbedded(out io.Writer) (network, error) {
	srv := mock.NewServer(nil)
	fmt.Fprintln(out, "mock server listening at", srv.URL())
	return embedded{srv}, nil
}

func (e embedded) url() string { return e.srv.URL() }
func (e embedded) close()      { e.srv.Close() }

// down makes every transport unreachable, as a lost uplink does: existing
// connections break and new ones are refused.
func (e embedded) down() {
	for _, t := range transports {
		e.srv.RefuseTransport(t, 503)
	}
	e.srv.DropConnections()
}

func (e embedded) up() {
	for _, t := range transports {
		e.srv.RefuseTransport(t, 0)
	}
}

// check confirms on the server's side that it stored exactly n readings,
// none twice.
func (e embedded) check(ctx context.Context, n int) error {
	got, err := e.srv.WaitReceived(ctx, n)
	if err != nil {
		return fmt.Errorf("server received %d of %d readings: %w", len(e.srv.Received()), n, err)
	}
	seen := make(map[string]bool, len(got))
	for _, m := range got {
		if seen[string(m.Data)] {
			return fmt.Errorf("server stored %s twice", m.Data)
		}
		seen[string(m.Data)] = true
	}
	if len(got) != n {
		return fmt.Errorf("server stored %d readings, %d acknowledged", len(got), n)
	}
	return nil
}
