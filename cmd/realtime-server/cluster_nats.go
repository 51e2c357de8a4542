package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/server/natsbroker"
)

// setup joins the cluster when -nats is set: one NATS connection that
// reconnects forever, and the natsbroker Cluster on it as the server's
// Broker, session store and Relay. The returned func closes both. It
// waits for NATS as long as ctx lasts (the node listens only once it
// has joined, so a load balancer's health check skips it meanwhile).
func (c *clusterFlags) setup(ctx context.Context, cfg *server.Config, log *slog.Logger) (func(), error) {
	if c.natsURL == "" {
		return func() {}, nil
	}
	name := "realtime-server"
	if cfg.Node != "" {
		name += " " + cfg.Node
	}
	nc, err := nats.Connect(c.natsURL,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(c.reconnectWait),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("nats: disconnected", "error", err) }),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("nats: reconnected") }),
	)
	if err != nil {
		return nil, fmt.Errorf("-nats: %w", err)
	}
	cl, err := c.join(ctx, nc, log)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("-nats: %w", err)
	}
	cfg.Broker = cl
	cfg.Sessions = cl.Sessions() // the session layer's Config field (issue 12)
	cfg.Relay = cl.Relay()
	log.Info("cluster node", "node", cfg.Node, "replicas", c.replicas, "prefix", c.prefix)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = cl.Close(ctx)
		nc.Close()
	}, nil
}

// join creates the natsbroker Cluster, trying again while NATS cannot
// answer (unreachable, or without a JetStream quorum after a restart),
// at most every maxJoinWait, until ctx ends. Invalid options end it at
// once.
func (c *clusterFlags) join(ctx context.Context, nc *nats.Conn, log *slog.Logger) (*natsbroker.Cluster, error) {
	opts := natsbroker.Options{Prefix: c.prefix, Replicas: c.replicas}
	wait := c.reconnectWait
	for {
		cl, err := natsbroker.New(ctx, nc, opts)
		if err == nil || errors.Is(err, natsbroker.ErrOptions) || ctx.Err() != nil {
			return cl, err
		}
		log.Warn("nats: cannot join the cluster yet, trying again", "error", err, "wait", wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, maxJoinWait)
	}
}

// maxJoinWait bounds the wait between two attempts to join the cluster.
const maxJoinWait = 5 * time.Second
