package realtime

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/realtimekit/realtime/fallback"
	"github.com/realtimekit/realtime/internal/engine"
	"github.com/realtimekit/realtime/internal/protocol"
	"github.com/realtimekit/realtime/internal/redact"
	"github.com/realtimekit/realtime/reconnect"
)

// State is where a Client's connection stands: Idle, Connecting, Connected,
// Reconnecting, Suspended, Closed or Failed.
type State = reconnect.State

// The states of a Client; see package reconnect for each one's meaning.
const (
	StateIdle         = reconnect.Idle
	StateConnecting   = reconnect.Connecting
	StateConnected    = reconnect.Connected
	StateReconnecting = reconnect.Reconnecting
	StateSuspended    = reconnect.Suspended
	StateClosed       = reconnect.Closed
	StateFailed       = reconnect.Failed
)

// StateChange is one state transition with its reason, as given to
// Options.OnStateChange. It is a struct so it can grow fields.
type StateChange struct {
	From, To State
	// Reason says why, in words: "connect called", "connected", "session
	// resumed", "session not resumed", "attempt failed", "connection lost",
	// "connection lost soon after connecting", "transport upgraded from
	// sse", "closed by the application", "permanent error".
	Reason string
	// Err is the error behind the change, if any.
	Err error
	// Transport is the transport in use once connected ("websocket", "sse",
	// "longpoll"); empty otherwise.
	Transport string
	// Attempt counts the failed attempts of the current outage, links that
	// died young included (0 when connected).
	Attempt int
	// Delay is the wait before the next attempt, when one is scheduled.
	Delay time.Duration
	// ContinuityLost is true when the server did not resume the session:
	// messages the server held for the client may be gone, messages still
	// waiting for their handler were dropped (Stats.DroppedStale), and
	// publishes that were not acknowledged were failed (or resent, per
	// Options.ResendOnSessionLoss).
	ContinuityLost bool
	// At is when the change happened.
	At time.Time
}

// Message is a message delivered on a subscribed channel, or one to
// publish with PublishMessage.
type Message struct {
	Channel string
	Data    []byte
	// Seq is the message's sequence number in the session, for logs.
	Seq uint64
	// Redelivered is true for the one message whose handler the process
	// before this one may have run, or been running, when it died: the
	// first message after a restart on an Options.Store, when its handler
	// returned and the process died before it could record so. A handler
	// whose effect must not happen twice checks its own record for it.
	Redelivered bool
	// Time is when the server accepted the publish, by the server's clock,
	// to the millisecond; the zero Time when the server sent none.
	Time time.Time
	// From is the publisher's identity, as the server's authentication
	// named the publishing connection; "" when it has none (a publish
	// from the server's backend, or a server that does not say).
	From string
	// Header holds the publisher's headers, such as a W3C traceparent;
	// nil when none. At most 16 entries of 4 KiB in all (see
	// PublishMessage).
	Header map[string]string
}

// Handler receives the messages of a subscription. Handlers of one Client
// run one at a time, in delivery order, on the Client's dispatcher
// goroutine; a message is acknowledged to the server when its handler
// returns, so a slow handler slows delivery (backpressure) but never the
// heartbeat.
type Handler func(Message)

// Client is a connection to a realtime server that survives drops and
// transport switches. Create it with New; it is safe for concurrent use.
type Client struct {
	eng *engine.Engine // holds the handlers too, with the subscriptions
	// onChange is Options.OnStateChange: the one option the façade still
	// needs after New (the engine has its own copy of the rest; an idle
	// client need not keep the whole Options).
	onChange func(StateChange)
}

// New returns a Client for the server at baseURL (http, https, ws or wss).
// It does no network I/O: Connect dials. With Options.Store it loads the
// store, and returns a *StoreError if that fails. A nil opts takes every
// default.
func New(baseURL string, opts *Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		// url.Parse's error quotes the whole URL, token and all.
		return nil, fmt.Errorf("realtime: bad URL: %w", redact.New(baseURL, nil).Err(err))
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return nil, fmt.Errorf("realtime: bad URL scheme %q: want http, https, ws or wss", u.Scheme)
	}
	o := opts.withDefaults()
	c := &Client{onChange: o.OnStateChange}
	eng, err := engine.New(engine.Config{
		URL: baseURL, Codec: o.Codec, MaxMessageSize: o.MaxMessageSize,
		Transports: o.Transports, HandshakeTimeout: o.HandshakeTimeout, UpgradeInterval: o.UpgradeInterval,
		HTTPClient: o.HTTPClient, Header: o.Header, AllowedRedirectHosts: o.AllowedRedirectHosts, Token: o.Token, Reconnect: o.Reconnect,
		OutboxCount: o.OutboxCount, OutboxBytes: o.OutboxBytes, InboxBytes: o.MaxInboxBytes, DropOldest: o.OutboxPolicy == DropOldest,
		HeartbeatGrace: o.HeartbeatGrace, ResendOnSessionLoss: o.ResendOnSessionLoss, Logger: o.Logger,
		Consume: c.consume, Changes: o.OnStateChange != nil, Store: o.Store,
	})
	if err != nil {
		return nil, err
	}
	c.eng = eng
	return c, nil
}

// Connect starts the client and waits until it is connected. The first
// call starts the connection loop, which retries per Options.Reconnect and
// runs until Close; later calls only wait. If ctx ends first, Connect
// returns an error wrapping ctx's error and the last attempt's error, and
// the client keeps trying in the background. If the client fails for
// good (for example ErrUnauthorized), Connect returns that error.
func (c *Client) Connect(ctx context.Context) error {
	if !c.eng.Start() {
		return ErrClosed
	}
	s, err := c.eng.State().WaitFor(ctx, StateConnected)
	switch {
	case err != nil:
		if last := c.Err(); last != nil {
			return fmt.Errorf("realtime: not connected: %w (last attempt: %w)", err, last)
		}
		return fmt.Errorf("realtime: not connected: %w", err)
	case s == StateClosed:
		return ErrClosed
	case s == StateFailed:
		return c.Err()
	}
	return nil
}

// State returns the client's current state.
func (c *Client) State() State { return c.eng.State().State() }

// WaitForState blocks until the client is in one of states, or a final
// state (Closed, Failed) is reached, or ctx ends. It returns the state
// reached and ctx's error, if it ended.
func (c *Client) WaitForState(ctx context.Context, states ...State) (State, error) {
	return c.eng.State().WaitFor(ctx, states...)
}

// WaitForStateChange blocks until the state is not from, or ctx ends; it
// reports whether the state changed.
func (c *Client) WaitForStateChange(ctx context.Context, from State) bool {
	return c.eng.State().WaitForStateChange(ctx, from)
}

// Transport returns the name of the transport in use ("websocket", "sse",
// "longpoll"), or "" while not connected.
func (c *Client) Transport() string { return c.eng.Transport() }

// Attempts returns the transports tried in the last negotiation, in
// order, each with its error (nil for the one that worked) and how long it
// took: why the client is on SSE rather than WebSocket, say. Nil before the
// first attempt.
func (c *Client) Attempts() []fallback.Attempt { return c.eng.Attempts() }

// Err returns the error behind the last failed attempt or lost connection,
// or, once Failed, the error that ended the client. Nil if none.
func (c *Client) Err() error { return publicErr(c.eng.Err()) }

// Publish sends data on channel and waits until the server acknowledges it
// (nil), refuses it (*RefusedError), or ctx ends. While disconnected the
// message waits in the bounded outbox. If ctx ends before the message was
// sent, it is withdrawn; once sent, it stays in the outbox and is resent
// until acknowledged even though Publish has returned ctx's error.
// PublishMessage does the same with a header.
func (c *Client) Publish(ctx context.Context, channel string, data []byte) error {
	return c.PublishMessage(ctx, Message{Channel: channel, Data: data})
}

// PublishAsync queues a copy of data for channel and returns at once with
// a Receipt to wait on. It fails at once with ErrOutboxFull, ErrMessageTooLarge, an
// invalid channel name, ErrDraining once Drain was called, or ErrClosed.
// PublishMessageAsync does the same with a header.
func (c *Client) PublishAsync(channel string, data []byte) (*Receipt, error) {
	return c.PublishMessageAsync(Message{Channel: channel, Data: data})
}

// Subscribe adds a subscription to channel and waits until the server
// acknowledges it or refuses it (*RefusedError). Messages go to h, or, when
// h is nil, to the loop of the subscription's Messages iterator.
//
// A channel may have several subscriptions, each with its own handler or
// loop; each sees every message of the channel once, in order. They share
// one subscription on the server: the first Subscribe sends it, later ones
// wait for its acknowledgement, and the last Subscription.Unsubscribe ends
// it. Subscriptions survive reconnects; after a lost session they are
// renewed. On an error no subscription is left behind.
func (c *Client) Subscribe(ctx context.Context, channel string, h Handler) (*Subscription, error) {
	if err := checkChannel(channel); err != nil {
		return nil, err
	}
	switch c.State() { // a later subscription sends nothing that would say so
	case StateClosed:
		return nil, ErrClosed
	case StateFailed:
		return nil, c.Err()
	}
	s := &Subscription{c: c, channel: channel, h: h}
	if h == nil {
		s.it = newIterState()
	}
	first, op := c.add(s)
	if first {
		if err := c.eng.Enqueue(op); err != nil {
			op.Abandon(err) // later subscriptions wait on it
			c.remove(s)
			return nil, publicErr(err)
		}
	}
	if op == nil { // acknowledged before
		return s, nil
	}
	if err := publicErr(op.Wait(ctx)); err != nil {
		c.forget(s, err)
		return nil, err
	}
	if first {
		c.settled(s)
	}
	return s, nil
}

// Close ends the session on purpose (the server forgets it), stops every
// goroutine of the client and waits for them, at once: publishes not yet
// acknowledged fail with ErrClosed, and messages waiting for their handler
// are dropped (the server would replay them to a resumed session; a closed
// one is not resumed). Drain finishes that work first, within a deadline. A second Close returns ErrClosed. Close waits for
// the handler or OnStateChange call in progress, so it must not be called
// from one (start a goroutine there instead).
//
// Beyond that call, Close is bounded even when the server stopped
// reading: it waits at most CloseTimeout (1 s) for the connection to take
// its goodbye, or a send under way, and then aborts it; SSE and long
// polling then close their HTTP connection within 2 s more (1 s to flush,
// 1 s for the DELETE).
func (c *Client) Close() error {
	late, ch, ok, closed := c.eng.Close()
	if !closed {
		return ErrClosed
	}
	if c.onChange != nil {
		for _, l := range late {
			c.onChange(publicChange(l))
		}
		if ok {
			c.onChange(publicChange(ch))
		}
	}
	return nil
}

func checkChannel(ch string) error {
	if err := protocol.CheckChannel(ch); err != nil {
		return fmt.Errorf("realtime: %w", err)
	}
	return nil
}
