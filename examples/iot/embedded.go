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

// check confirms on the server's side that it received n readings.
func (e embedded) check(ctx context.Context, n int) error {
	if _, err := e.srv.WaitReceived(ctx, n); err != nil {
		return fmt.Errorf("server received %d of %d readings: %w", len(e.srv.Received()), n, err)
	}
	return nil
}
