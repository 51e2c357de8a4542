// Package engine is the client's engine: it owns the session and its lock,
// the connection loop, negotiation, the upgrade probe and the writer. It
// hands deliveries and state changes up through one bounded, one-way Queue
// to the façade's dispatcher; the façade (package realtime) only calls
// down. It never imports package realtime.
package engine

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/fallback"
	"github.com/realtimekit/realtime/internal/connstate"
	"github.com/realtimekit/realtime/internal/negotiate"
	"github.com/realtimekit/realtime/internal/protocol"
	"github.com/realtimekit/realtime/internal/session"
	"github.com/realtimekit/realtime/internal/watchdog"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/store"
	"github.com/realtimekit/realtime/transport"
)

// Config is what the engine runs on, every default already applied by the
// façade.
type Config struct {
	URL              string
	Codec            codec.Codec
	MaxMessageSize   int
	Transports       []transport.Transport
	HandshakeTimeout time.Duration
	UpgradeInterval  time.Duration // negative: no probe
	HTTPClient       *http.Client
	Header           http.Header
	// AllowedRedirectHosts is transport.Config's, for every dial.
	AllowedRedirectHosts []string
	Token                func(ctx context.Context) (string, error)
	Reconnect            reconnect.Policy
	OutboxCount          int
	OutboxBytes          int
	InboxBytes           int // announced in connect; zero: no budget
	DropOldest           bool
	HeartbeatGrace       time.Duration // zero: half the heartbeat, at least 1 s
	ResendOnSessionLoss  bool
	Logger               *slog.Logger
	// Consume runs each queued Item, one at a time, in order, on the
	// queue's goroutine: the façade's dispatcher.
	Consume func(Item)
	// Changes says whether state changes are queued for Consume.
	Changes bool
	// Store, if set, keeps the outbox and the session across processes.
	Store store.Store
}

// Engine is one client's engine. Create it with New.
type Engine struct {
	cfg   Config
	codec codec.Codec
	limit int // of one encoded message: protocol.Limit of codec and MaxMessageSize
	neg   *negotiate.Negotiator
	state connstate.Machine
	disp  *Queue
	evMu  sync.Mutex // makes recording a state change and queueing it one step

	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{} // the connection loop has frames to send

	// subs holds the channels subscribed (acknowledged or in flight), each
	// with the façade's value (its subscriptions), opaque here: one map for both layers, as
	// an idle client pays for each. Taken after mu when both are held.
	subMu sync.Mutex
	subs  map[string]any

	mu        sync.Mutex
	sess      *session.Session
	started   bool
	closed    bool
	draining  bool // publishes are refused with ErrDraining (see Drain)
	transport string
	lastErr   error
	failed    error         // set once Failed: the error that ended the client
	dog       *watchdog.Dog // the live link's, while its writer runs
	count     counts
	attempts  []fallback.Attempt // of the last negotiation
	connects  bucket             // the connects ceiling
	closeAt   atomic.Int64       // when Close was called, Unix ns: the goodbye's deadline runs from it
	store     *stored            // nil without a store
}

// counts are the engine's own counters; guarded by Engine.mu but young.
type counts struct {
	connects, disconnects, upgrades, lost, published, delivered uint64
	young                                                       atomic.Uint64 // links that died young
}

// New returns an engine. It does no I/O but loading cfg.Store, whose
// error it returns as a *StoreError.
func New(cfg Config) (*Engine, error) {
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		cfg:    cfg,
		codec:  cfg.Codec,
		limit:  protocol.Limit(cfg.Codec, cfg.MaxMessageSize),
		neg:    &negotiate.Negotiator{Transports: cfg.Transports, Deadline: cfg.HandshakeTimeout},
		ctx:    ctx,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
		sess:   session.New(session.Limits{Count: cfg.OutboxCount, Bytes: cfg.OutboxBytes, InboxBytes: cfg.InboxBytes}),
		subs:   make(map[string]any),
	}
	e.disp = newQueue(cfg.Consume, cfg.Changes)
	if cfg.Store != nil {
		if err := e.restore(cfg.Store); err != nil {
			cancel()
			return nil, err
		}
	}
	return e, nil
}

// Start starts the connection loop, once; it reports false after Close.
func (e *Engine) Start() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	if !e.started {
		e.started = true
		e.wg.Add(1)
		go e.run()
	}
	return true
}

// State returns the connection state machine, for reading and waiting.
func (e *Engine) State() *connstate.Machine { return &e.state }

// Transport returns the transport in use, or "".
func (e *Engine) Transport() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.transport
}

// Attempts returns the attempts of the last negotiation.
func (e *Engine) Attempts() []fallback.Attempt {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.attempts)
}

// Err returns the error of the last failed attempt or lost link, or the
// one that failed the engine.
func (e *Engine) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastErr
}

// Limit returns the size limit of one encoded message.
func (e *Engine) Limit() int { return e.limit }

// Codec returns the codec frames are encoded with.
func (e *Engine) Codec() codec.Codec { return e.codec }

// Enqueue queues op (a publish, subscribe or unsubscribe) in the outbox.
func (e *Engine) Enqueue(op *session.Op) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	if e.failed != nil {
		err := e.failed
		e.mu.Unlock()
		return err
	}
	if e.draining && op.Frame.Type == codec.TypePublish {
		e.mu.Unlock()
		return ErrDraining
	}
	dropOldest := e.cfg.DropOldest && op.Frame.Type == codec.TypePublish
	err := e.sess.Enqueue(op, dropOldest)
	if err == nil && op.Frame.Type == codec.TypePublish {
		e.count.published++
	}
	e.mu.Unlock()
	if err != nil {
		var serr *StoreError
		if !errors.As(err, &serr) && !errors.Is(err, session.ErrOutboxFull) {
			err = &StoreError{Err: err} // the journal's
		}
		return engineErr(err)
	}
	e.signal()
	if e.store != nil {
		return e.accepted(op)
	}
	return nil
}

// Withdraw removes op if it was not sent yet, failing it with err.
func (e *Engine) Withdraw(op *session.Op, err error) {
	e.mu.Lock()
	e.sess.Withdraw(op, err)
	e.mu.Unlock()
}

// Handler returns what UpdateSub stored for channel, or nil.
func (e *Engine) Handler(channel string) any {
	e.subMu.Lock()
	defer e.subMu.Unlock()
	return e.subs[channel]
}

// signal wakes the connection loop without blocking.
func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Close stops the engine: it cancels the connection loop, lets the live
// link say goodbye within CloseTimeout, stops the queue's goroutine after
// the call it is making, waits for every goroutine, and fails what is
// still in the outbox with ErrClosed. It returns the state changes still
// queued and the change to closed (ok false if the state was final). It
// reports closed false when the engine was already closed.
func (e *Engine) Close() (late []connstate.Change, ch connstate.Change, ok, closed bool) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, connstate.Change{}, false, false
	}
	e.closed = true
	dog := e.dog
	e.mu.Unlock()
	e.closeAt.Store(time.Now().UnixNano())
	e.cancel()
	if dog != nil { // a send the server does not take must not hold Close
		dog.Shorten(closeWait)
	}
	e.disp.stop()
	e.wg.Wait()
	e.mu.Lock()
	e.sess.FailAll(ErrClosed)
	e.mu.Unlock()
	// The queue's goroutine and every goroutine that changes state have
	// ended, and setState refuses changes once ctx is cancelled; what they
	// queued after the queue stopped is returned here, before closed.
	e.evMu.Lock()
	late = e.disp.takeChanges()
	ch, ok = e.state.Set(connstate.Change{To: reconnect.Closed, Reason: "closed by the application"})
	e.evMu.Unlock()
	if ok {
		e.cfg.Logger.Info("realtime: closed", "from", ch.From.String())
	}
	return late, ch, ok, true
}

// Stats is a snapshot of the engine's counters.
type Stats struct {
	State                                                      reconnect.State
	Transport                                                  string
	Connects, Disconnects, DiedYoung, Upgrades, ContinuityLost uint64
	Published, Delivered                                       uint64
	Session                                                    session.Counters
	OutboxCount, OutboxBytes, InboxCount, InboxBytes           int
	DroppedStale                                               uint64
	Store                                                      StoreStats
}

// Stats returns a snapshot of the counters, outbox and queue.
func (e *Engine) Stats() Stats {
	st := e.state.State()
	in, inBytes, stale := e.disp.inbox()
	e.mu.Lock()
	defer e.mu.Unlock()
	n, b := e.sess.Len()
	return Stats{
		State: st, Transport: e.transport,
		Connects: e.count.connects, Disconnects: e.count.disconnects, DiedYoung: e.count.young.Load(),
		Upgrades: e.count.upgrades, ContinuityLost: e.count.lost,
		Published: e.count.published, Delivered: e.count.delivered,
		Session:     e.sess.Count,
		OutboxCount: n, OutboxBytes: b,
		InboxCount: in, InboxBytes: inBytes, DroppedStale: stale,
		Store: e.storeStats(),
	}
}
