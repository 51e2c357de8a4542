package engine

import (
	"sync/atomic"
	"time"

	"github.com/realtimekit/realtime/internal/session"
	"github.com/realtimekit/realtime/store"
)

// RestoreWait bounds how long a message of a session restored from a
// store waits for a handler on its channel: the process that subscribed
// is gone, and the new one subscribes again after Connect. Past it, the
// channel's messages are processed without a handler (dropped).
const RestoreWait = 10 * time.Second

// StoreError is an error of the Options.Store: one that cannot be loaded
// (from New), or a publish that could not be recorded (from Enqueue).
type StoreError struct{ Err error }

func (e *StoreError) Error() string { return "realtime: store: " + e.Err.Error() }

func (e *StoreError) Unwrap() error { return e.Err }

// stored is the engine's side of a store.
type stored struct {
	st        store.Store
	restored  bool   // the session came from the store
	ops       int    // operations restored
	redeliver uint64 // the server frame whose handler may have run in the last process
	damage    store.Damage
	errs      atomic.Uint64 // records or commits that failed

	// handlerAdded is closed, and replaced, whenever a handler is added:
	// what a message of a restored session waits on. Guarded by subMu.
	handlerAdded chan struct{}
	gaveUp       map[string]bool // channels no handler came for in time
}

// restore loads the store's state into the fresh session and makes it
// report its changes to the store.
func (e *Engine) restore(st store.Store) error {
	state, err := st.Load()
	if err != nil {
		return &StoreError{Err: err}
	}
	s := &stored{st: st, damage: state.Damage, gaveUp: map[string]bool{}}
	s.ops, _ = state.Len()
	s.restored = e.sess.Restore(state)
	if s.restored {
		s.redeliver = state.Processed + 1
	}
	e.sess.SetJournal(func(r *store.Record) error {
		err := st.Append(r)
		if err != nil {
			e.storeFailed(err)
		}
		return err
	})
	e.store = s
	e.signal() // what was restored goes out on the first link
	if d := state.Damage; d.Records > 0 {
		e.cfg.Logger.Warn("realtime: the store was damaged: what could not be read was cut", "stretches", d.Records, "bytes", d.Bytes)
	}
	if s.ops > 0 || s.restored {
		e.cfg.Logger.Info("realtime: restored from the store", "operations", s.ops, "session", s.restored)
	}
	return nil
}

// storeFailed counts a failed record or commit, and logs the first of
// every run of them.
func (e *Engine) storeFailed(err error) {
	if n := e.store.errs.Add(1); n == 1 || n%1000 == 0 {
		e.cfg.Logger.Error("realtime: the store failed: what follows may not survive a restart", "err", err, "failures", n)
	}
}

// commit makes what the session recorded durable per the store's policy.
func (e *Engine) commit() error {
	if e.store == nil {
		return nil
	}
	err := e.store.st.Commit()
	if err != nil {
		e.storeFailed(err)
	}
	return err
}

// accepted commits op's record before PublishAsync returns; when that
// fails, op is withdrawn if it was not sent yet and the error returned.
func (e *Engine) accepted(op *session.Op) error {
	err := e.commit()
	if err == nil {
		return nil
	}
	serr := &StoreError{Err: err}
	e.mu.Lock()
	withdrawn := e.sess.Withdraw(op, serr)
	e.mu.Unlock()
	if withdrawn {
		return serr
	}
	return nil // on its way already: its Receipt tells the rest
}

// redelivered reports whether server frame seq is the one whose handler
// the last process may have run before it could record so. e.mu is held.
func (e *Engine) redelivered(seq uint64) bool {
	if e.store == nil || e.store.redeliver == 0 {
		return false
	}
	r := seq == e.store.redeliver && e.sess.Epoch == 1
	if seq >= e.store.redeliver || e.sess.Epoch != 1 {
		e.store.redeliver = 0
	}
	return r
}

// AwaitHandler waits for a handler on channel when m belongs to a session
// restored from the store and none is set yet, at most RestoreWait per
// channel; it returns the handler, or nil.
func (e *Engine) AwaitHandler(m Message) any {
	if e.store == nil || !e.store.restored || m.Epoch != 1 {
		return nil
	}
	deadline := time.NewTimer(RestoreWait)
	defer deadline.Stop()
	for {
		e.subMu.Lock()
		h := e.subs[m.Channel]
		if h != nil || e.store.gaveUp[m.Channel] {
			e.subMu.Unlock()
			return h
		}
		if e.store.handlerAdded == nil {
			e.store.handlerAdded = make(chan struct{})
		}
		added := e.store.handlerAdded
		e.subMu.Unlock()
		select {
		case <-added:
		case <-e.ctx.Done():
			return nil
		case <-deadline.C:
			e.subMu.Lock()
			e.store.gaveUp[m.Channel] = true
			e.subMu.Unlock()
			e.cfg.Logger.Warn("realtime: no handler for a channel of the restored session: its messages are dropped", "waited", RestoreWait)
		}
	}
}

// handlerAddedLocked wakes what waits for a handler. e.subMu is held.
func (e *Engine) handlerAddedLocked() {
	if e.store != nil && e.store.handlerAdded != nil {
		close(e.store.handlerAdded)
		e.store.handlerAdded = nil
	}
}

// StoreStats are the store's counters.
type StoreStats struct {
	Restored int          // operations restored when the client was made
	Damage   store.Damage // what the store cut when it opened
	Errors   uint64       // records or commits that failed
}

func (e *Engine) storeStats() StoreStats {
	if e.store == nil {
		return StoreStats{}
	}
	return StoreStats{Restored: e.store.ops, Damage: e.store.damage, Errors: e.store.errs.Load()}
}
