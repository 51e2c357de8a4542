// Package serverhooks is the set of test hooks of package server: the
// fault switches of package mock are built on them. They are not part of
// the server's public API, which a production backend configures through
// server.Config only.
//
// Package server sets the function variables in its init; Install must be
// called after server.New and before the Server serves its first request.
package serverhooks

import (
	"net/http"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/transport"
)

// Conn describes one transport connection to the hooks. The server passes
// the same pointer to every hook call about a connection and never
// modifies it after WrapConn.
type Conn struct {
	ID        uint64        // unique within the Server, from 1
	Transport string        // "websocket", "sse" or "longpoll"
	Codec     codec.Codec   // the codec the client chose
	Request   *http.Request // the handshake request
}

// Hooks observe and alter what a server does. Each nil hook does nothing.
// They run on the server's goroutines, never under a lock of the server.
type Hooks struct {
	// Handshake is called with each handshake request before any other
	// check, with the transport's name. A non-zero HTTP status refuses the
	// request with it.
	Handshake func(transportName string, r *http.Request) int
	// WrapConn is called once for each established transport connection
	// before anything is read from it; the server then uses only the Conn
	// it returns and closes it at the end.
	WrapConn func(c *Conn, tc transport.Conn) transport.Conn
	// OnReceive observes every frame decoded from a connection, before the
	// server acts on it.
	OnReceive func(c *Conn, f codec.Frame)
	// FilterSend is given every batch of frames just before it is encoded
	// and sent, and returns what is actually sent: a subset, in the same
	// order. The server counts the frames passed in as sent, so dropping a
	// frame acts as a loss on the wire.
	FilterSend func(c *Conn, frames []codec.Frame) []codec.Frame
	// OnConnOpen is called once hello has been sent on a connection.
	OnConnOpen func(c *Conn, session string)
	// OnConnClose is called when a connection for which OnConnOpen was
	// called has ended and no longer counts in the server's Stats.
	OnConnClose func(c *Conn, session string)
	// OnSessionOpen is called when a new session is created.
	OnSessionOpen func(session string)
	// OnSessionEnd is called once a session has been forgotten, with the
	// code it ended with: 0 for a close frame or an expiry, 1001 when the
	// server shuts down, 4503 for a slow consumer.
	OnSessionEnd func(session string, code uint16)
}

// Set by package server in its init; srv is a *server.Server.
var (
	// Install replaces the hooks of srv.
	Install func(srv any, h Hooks)
	// ExpireSessions makes every session of srv impossible to resume, as
	// if its resume window had passed: a session without a connection ends
	// now, one with a connection goes on until that connection ends.
	ExpireSessions func(srv any)
)
