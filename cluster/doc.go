// Package cluster tests cmd/realtime-server as a cluster: three nodes on
// a three-node NATS JetStream cluster, behind haproxy balancing round-robin
// without stickiness, while nodes are killed with SIGKILL and restarted.
// It is a module of its own, so that users of the SDK never download NATS.
//
// The test builds nats-server (v2.15.2, from its module) and
// cmd/realtime-server once, in TestMain (NATS_SERVER_BIN and
// REALTIME_SERVER_BIN name builds to use instead).
// Without haproxy or one of the builds, the tests skip, or fail when
// CI=true.
package cluster
