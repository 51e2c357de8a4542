package main

import (
	"errors"
	"flag"
	"time"
)

// clusterFlags are the flags of a node of a cluster on NATS JetStream.
// Without -nats the server is a single node with the in-process broker.
type clusterFlags struct {
	natsURL       string
	replicas      int
	prefix        string
	reconnectWait time.Duration
}

// Defaults of the cluster flags.
const (
	defaultReplicas      = 1
	defaultPrefix        = "realtime"
	defaultReconnectWait = 500 * time.Millisecond
)

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.natsURL, "nats", "", "NATS `URL`s (comma-separated) of the JetStream cluster this node joins; none: a single node")
	fs.IntVar(&c.replicas, "nats-replicas", defaultReplicas, "replicas of the JetStream streams and buckets (3 for a 3-node NATS cluster)")
	fs.StringVar(&c.prefix, "nats-prefix", defaultPrefix, "prefix of the subjects, streams and buckets, shared by the nodes of one application")
	fs.DurationVar(&c.reconnectWait, "nats-reconnect-wait", defaultReconnectWait, "wait between reconnects to NATS (reconnects never stop)")
}

// check refuses cluster flags that cannot work.
func (c *clusterFlags) check() error {
	switch {
	case c.replicas < 1 || c.replicas > 5:
		return errors.New("-nats-replicas: 1 to 5")
	case c.reconnectWait <= 0:
		return errors.New("-nats-reconnect-wait: must be positive")
	case c.prefix == "":
		return errors.New("-nats-prefix: must not be empty")
	}
	return nil
}
