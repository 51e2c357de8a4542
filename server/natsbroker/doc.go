// Package natsbroker runs several realtime server nodes on one NATS
// JetStream: a Cluster is the server.Broker (also server.Log and
// server.Health) of one node, with its server.SessionStore (Sessions) and
// server.Relay (Relay). It is a module of its own, so that the SDK never
// downloads NATS.
//
//	nc, _ := nats.Connect("nats://n1:4222,nats://n2:4222,nats://n3:4222", nats.MaxReconnects(-1))
//	c, err := natsbroker.New(ctx, nc, natsbroker.Options{Replicas: 3})
//	cfg := server.Config{Broker: c, Sessions: c.Sessions(), …} // and c.Relay() for SSE and long polling
//
// # What is stored where
//
// With the default Prefix "realtime":
//
//   - Publications: the stream REALTIME, one message per publication on
//     the subject realtime.m.<channel in base64url> ("=" for the empty
//     name), its Nats-Msg-Id the Message.ID. The stream sequence is the
//     log position (Message.Pos). It keeps Retention (MaxAge) and
//     MaxBytes, dropping the oldest first.
//   - Sessions: the KV bucket REALTIME_sessions, one key per session id
//     (ids other than letters, digits, '-' and '_' are keyed as "=" and
//     their base64url), a versioned JSON record, the key's revision its
//     Version. A record expires SessionTTL after its last write.
//   - Relay: requests on realtime.node.<node in base64url>, with NATS
//     request/reply; nothing is stored.
//
// # What every node reads
//
// Each Cluster reads the whole stream with one ordered consumer, from the
// end of the stream at New, and hands each publication to the channel's
// deliver on one goroutine, in stream order. This is the cost of one order
// across channels, which lets a session be numbered the same way on any
// node: every node receives every publication, whether or not one of its
// sessions subscribed, so the stream's rate is bounded by what one node
// can read. Subscribe and Unsubscribe only change a map of the node.
// The ordered consumer resumes after the last sequence it delivered when
// the connection or a NATS node comes back, so deliveries are neither
// skipped nor repeated, as long as the node keeps up within Retention and
// MaxBytes: what retention removes before a lagging node reads it is
// skipped, and logged as an error.
//
// # Limits
//
//   - max_payload: a publication, and a relayed HTTP request or answer,
//     travel as one NATS message. The NATS servers' max_payload (default
//     1 MiB) must exceed the servers' MaxMessage plus a few KiB; Forward
//     returns ErrTooLarge for a request that does not fit.
//   - Retention must exceed the servers' ResumeWindow: a session whose
//     frames are no longer in the stream cannot resume (server.ErrTrimmed),
//     and its client is told it lost continuity. MaxBytes can trim sooner
//     under heavy traffic.
//   - DedupWindow should exceed the servers' ResumeWindow: a publish that
//     a client resends after a reconnect is stored once only within it.
//   - SessionTTL must exceed the servers' ResumeWindow.
//   - Healthy returns an error while the connection is not connected, or
//     after a JetStream operation failed for want of an answer until an
//     account check (every second) succeeds.
//
// # A 3-node JetStream cluster
//
// Run three nats-server processes, each with its own store and the
// routes of all three, and give New Replicas 3 (the stream and bucket
// then survive the loss of one node). The first node's file:
//
//	server_name: n1
//	listen: 0.0.0.0:4222
//	max_payload: 2MB
//	jetstream { store_dir: "/var/lib/nats/n1", max_file_store: 10GB }
//	cluster {
//	  name: realtime
//	  listen: 0.0.0.0:6222
//	  routes: [nats-route://n1:6222, nats-route://n2:6222, nats-route://n3:6222]
//	}
//
// n2 and n3 differ in server_name and store_dir. Connect every realtime
// node with the URLs of all three and nats.MaxReconnects(-1): it then
// moves to another NATS node when its own goes down.
package natsbroker
