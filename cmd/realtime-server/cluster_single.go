//go:build !natsbroker

package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/realtimekit/realtime/server"
)

// setup is the single-node build's: -nats needs the build with the
// natsbroker tag, until package server/natsbroker is part of the module's
// dependencies.
func (c *clusterFlags) setup(_ context.Context, _ *server.Config, _ *slog.Logger) (func(), error) {
	if c.natsURL != "" {
		return nil, errors.New("-nats: this build has no NATS support")
	}
	return func() {}, nil
}
