// Package server is a realtime server for Go backends: it serves the
// protocol of this module (docs/PROTOCOL.md) to the Go client and to any
// other client of the protocol, over WebSocket, Server-Sent Events and
// long polling, from one http.Handler.
//
// A Server keeps a session per client that survives lost connections:
// what the client published is processed once, what it missed is
// resent in order when it comes back, within Config.ResumeWindow. Clients
// subscribe to channels; a publish on a channel, from a client or from
// the backend through Server.Publish, reaches every session subscribed to
// it, in one order per channel.
//
// Mount it under any path prefix of an existing backend; the client is
// given that prefix as its URL:
//
//	srv := server.New(server.Config{
//		Authenticate: func(r *http.Request) (server.Identity, error) { ... },
//		Authorize:    func(ctx context.Context, a server.Access) error { ... },
//	})
//	mux.Handle("/realtime/", srv) // the client connects to https://host/realtime
//	...
//	srv.Close(ctx) // on shutdown: clients are told to come back later
//
// The application decides who connects (Config.Authenticate), who may
// subscribe to or publish on which channel (Config.Authorize), and what a
// publish does (Config.OnPublish: validate, persist or refuse it). Every
// refusal reaches the client as a nack with a code and a reason; the Go
// client returns it as a *realtime.RefusedError.
//
// Secure by default: browsers from other origins are refused on every
// transport unless listed in Config.AllowedOrigins (which also answers
// CORS preflights), and everything a stranger can create is bounded:
// connections awaiting connect (MaxPending, ConnectTimeout), connections
// per identity, sessions, subscriptions per session, publish rate per
// session, message size. Header size and header time belong to the
// http.Server that serves the handler: set its ReadHeaderTimeout and
// MaxHeaderBytes (cmd/realtime-server uses 10 s and 16 KiB). Tokens and
// connection ids never appear in the server's logs.
//
// Several nodes share channels through a Broker; the default is in
// process. Package server/brokertest is the suite every Broker passes.
//
// New does no I/O and starts no goroutine; Close drains and waits for
// every goroutine the Server started.
package server
