package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/realtimekit/realtime/server"
)

// setup refuses -nats: this build has no NATS support until package
// server/natsbroker is part of the repository (see cluster_nats.go, which
// replaces this file then).
func (c *clusterFlags) setup(_ context.Context, _ *server.Config, _ *slog.Logger) (func(), error) {
	if c.natsURL != "" {
		return nil, errors.New("-nats: this build has no NATS support")
	}
	return func() {}, nil
}
