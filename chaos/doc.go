// Package chaos holds the long-running fault-injection test of the realtime
// client: tens of thousands of messages each way through an in-process
// toxiproxy while connections are killed, stalled, cut and sliced, checking
// that nothing is lost, duplicated or reordered.
//
// It is a module of its own so that users of the SDK never download
// toxiproxy and what it depends on. See README.md.
package chaos
