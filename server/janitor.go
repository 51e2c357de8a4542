package server

import (
	"container/heap"
	"context"
	"errors"
	"time"
)

// One janitor goroutine per Server expires sessions left without a
// connection and unsubscribes forgotten sessions from the broker, which
// the code that ends a session cannot always do itself: a slow consumer
// is ended from inside a broker delivery.

// expiryHeap orders detached sessions by expireAt. Guarded by Server.mu.
type expiryHeap []*session

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expireAt.Before(h[j].expireAt) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *expiryHeap) Push(x any) {
	s := x.(*session)
	s.heapIdx = len(*h)
	*h = append(*h, s)
}
func (h *expiryHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	s.heapIdx = -1
	return s
}

// addSession registers a new session.
func (srv *Server) addSession(s *session) error {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	switch {
	case srv.closed:
		return ErrClosed
	case len(srv.sessions) >= srv.cfg.MaxSessions:
		return errFull
	}
	srv.sessions[s.id] = s
	if !srv.janitorOn {
		srv.janitorOn = true
		srv.wg.Add(1)
		go srv.janitor()
	}
	return nil
}

var errFull = errors.New("server: too many sessions")

// lookup returns the resumable session id, or nil.
func (srv *Server) lookup(id string) *session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	s := srv.sessions[id]
	if s == nil || s.noResume {
		return nil
	}
	return s
}

// forget removes s from every index and queues its clean-up. The caller
// holds s.mu and has marked s ended.
func (srv *Server) forget(s *session) {
	srv.mu.Lock()
	if srv.sessions[s.id] == s {
		delete(srv.sessions, s.id)
	}
	if s.heapIdx >= 0 {
		heap.Remove(&srv.expiry, s.heapIdx)
	}
	srv.ended = append(srv.ended, s)
	srv.mu.Unlock()
	srv.wakeJanitor()
}

// detached starts the resume window of s, which just lost its connection.
// It reports false when s must end now instead. The caller holds s.mu.
func (srv *Server) detached(s *session) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if s.noResume || srv.closed {
		return false
	}
	s.expireAt = time.Now().Add(srv.cfg.ResumeWindow)
	heap.Push(&srv.expiry, s)
	srv.wakeJanitor()
	return true
}

// attached stops the resume window of s. The caller holds s.mu.
func (srv *Server) attached(s *session) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if s.heapIdx >= 0 {
		heap.Remove(&srv.expiry, s.heapIdx)
	}
}

func (srv *Server) wakeJanitor() {
	select {
	case srv.kick <- struct{}{}:
	default:
	}
}

func (srv *Server) janitor() {
	defer srv.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var nextTouch time.Time // cluster mode: when to refresh records next
	for {
		srv.mu.Lock()
		now := time.Now()
		var expired []*session
		for len(srv.expiry) > 0 && !srv.expiry[0].expireAt.After(now) {
			expired = append(expired, heap.Pop(&srv.expiry).(*session))
		}
		ended := srv.ended
		srv.ended = nil
		wait := time.Hour
		if len(srv.expiry) > 0 {
			wait = srv.expiry[0].expireAt.Sub(now)
		}
		srv.mu.Unlock()
		if srv.cl != nil {
			if !now.Before(nextTouch) {
				srv.touch()
				nextTouch = now.Add(checkpointEvery)
			}
			wait = min(wait, time.Until(nextTouch))
		}

		for _, s := range expired {
			s.expire()
		}
		for _, s := range ended {
			srv.cleanup(s)
		}
		if len(expired) > 0 {
			continue // their clean-up is queued
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-srv.kick:
		case <-srv.done:
			return
		}
	}
}

// expire ends s unless it was resumed (or detached again) after the
// janitor took it off the heap.
func (s *session) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv.mu.Lock()
	requeued := s.heapIdx >= 0
	s.srv.mu.Unlock()
	if s.conn == nil && !requeued {
		s.endLocked(0, "")
	}
}

// unsubscribe removes s from channel, bounded by HookTimeout.
func (srv *Server) unsubscribe(s *session, channel string) {
	ctx, cancel := context.WithTimeout(srv.base, srv.cfg.HookTimeout)
	defer cancel()
	if err := srv.hub.unsubscribe(ctx, channel, s); err != nil {
		srv.cfg.Logger.Warn("broker unsubscribe failed", "err", err)
	}
}

// cleanup unsubscribes a forgotten session and reports its end.
func (srv *Server) cleanup(s *session) {
	if s.cl != nil {
		srv.cleanupClustered(s)
	} else {
		for _, ch := range s.takeSubs() {
			srv.unsubscribe(s, ch)
		}
	}
	srv.cfg.Logger.Debug("session ended", "code", s.endCode)
	if h := srv.hooks.OnSessionEnd; h != nil {
		h(s.id, s.endCode)
	}
}

// expireSessions implements serverhooks.ExpireSessions.
func (srv *Server) expireSessions() {
	srv.mu.Lock()
	var idle []*session
	for _, s := range srv.sessions {
		s.noResume = true
		if s.heapIdx >= 0 {
			idle = append(idle, s)
		}
	}
	srv.mu.Unlock()
	for _, s := range idle {
		s.mu.Lock()
		if s.conn == nil {
			s.endLocked(0, "")
		}
		s.mu.Unlock()
	}
}
