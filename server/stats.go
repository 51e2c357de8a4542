package server

import "sync/atomic"

// Stats is a snapshot of a Server's state and counters.
type Stats struct {
	// Conns is the number of connections carrying a session: counted from
	// just before hello is sent until the connection has ended.
	Conns int
	// Sessions is the number of sessions kept, with or without a
	// connection.
	Sessions int
	// Pending is the number of connections awaiting their connect frame.
	Pending int
	// Channels is the number of channels this node is subscribed to at
	// the Broker.
	Channels int
	// Published counts the client publishes handed to the Broker.
	Published uint64
	// BackendPublished counts the successful calls of Server.Publish.
	BackendPublished uint64
	// Refused counts the nacks sent: refusals by Authorize, OnPublish or a
	// bound.
	Refused uint64
	// Resumed counts the sessions resumed on this node, and Restored those
	// of them rebuilt from the SessionStore and the Log: sessions that
	// another node served before (cluster mode only).
	Resumed, Restored uint64
}

type counters struct {
	published, backend, refused, resumed, restored atomic.Uint64
}

// Stats returns a snapshot of the server's state and counters.
func (srv *Server) Stats() Stats {
	srv.mu.Lock()
	st := Stats{Conns: srv.open, Sessions: len(srv.sessions), Pending: srv.pending}
	srv.mu.Unlock()
	st.Channels = srv.hub.channels()
	st.Published = srv.stats.published.Load()
	st.BackendPublished = srv.stats.backend.Load()
	st.Refused = srv.stats.refused.Load()
	st.Resumed = srv.stats.resumed.Load()
	st.Restored = srv.stats.restored.Load()
	return st
}
