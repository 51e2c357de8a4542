package mock

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimekit/realtime/internal/serverhooks"
	"github.com/realtimekit/realtime/transport"
)

// mconn wraps each transport connection the core accepts, so that the
// switches can send into it, count its frames, and break it.
type mconn struct {
	transport.Conn
	s    *Server
	info *serverhooks.Conn
	raw  net.Conn // the network connection under it, if known

	// sendMu serialises the core's sends with injected and delayed ones,
	// as transport.Conn allows one Send at a time.
	sendMu sync.Mutex

	frames    atomic.Int64 // frames carried both ways
	dropAfter atomic.Bool  // drop once the send in progress is done
	dropOnce  sync.Once
	forgotten atomic.Bool

	// A connection that received connect is live for injections, which
	// wait for the first message the core sends on it: hello.
	connected atomic.Bool
	firstSent chan struct{}
	sentOnce  sync.Once
	gone      chan struct{} // closed by forget
}

func (s *Server) wrap(info *serverhooks.Conn, c transport.Conn) transport.Conn {
	m := &mconn{Conn: c, s: s, info: info, firstSent: make(chan struct{}), gone: make(chan struct{})}
	// A stream owns its network connection; a long-polling connection is a
	// series of requests on pooled ones, which may carry other traffic.
	if info.Transport != "longpoll" {
		m.raw, _ = info.Request.Context().Value(connKey{}).(net.Conn)
	}
	s.mu.Lock()
	s.transports[info.Transport]++
	s.conns[info.ID] = m
	closeNow := s.sw.acceptClose[info.Transport]
	s.broadcastLocked()
	s.mu.Unlock()
	if closeNow {
		m.drop(true) // before the core reads anything
	}
	return m
}

// Send implements transport.Conn.
func (m *mconn) Send(ctx context.Context, msg []byte) error {
	m.sendMu.Lock()
	err := m.Conn.Send(ctx, msg)
	m.sendMu.Unlock()
	m.afterSend()
	return err
}

// inject sends msg after the core's first message, bounded in time.
func (m *mconn) inject(msg []byte) {
	t := time.NewTimer(injectTimeout)
	defer t.Stop()
	select {
	case <-m.firstSent:
	case <-m.gone:
		return
	case <-t.C:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), injectTimeout)
	defer cancel()
	_ = m.Send(ctx, msg)
}

// injectTimeout bounds an injection into one connection whose peer does
// not read, or on which hello does not come.
const injectTimeout = 5 * time.Second

func (m *mconn) afterSend() {
	m.sentOnce.Do(func() { close(m.firstSent) })
	if m.dropAfter.Load() {
		m.drop(false)
	}
}

// Close implements transport.Conn.
func (m *mconn) Close() error {
	m.forget()
	return m.Conn.Close()
}

// forget stops tracking m. The core closes a connection only after it
// stopped counting it, so this is also where WaitFor learns of a
// connection that ended before OnConnOpen.
func (m *mconn) forget() {
	if m.forgotten.Swap(true) {
		return
	}
	close(m.gone)
	m.s.mu.Lock()
	if m.s.conns[m.info.ID] == m {
		delete(m.s.conns, m.info.ID)
	}
	m.s.broadcastLocked()
	m.s.mu.Unlock()
}

// drop ends the connection as a network failure would: by closing the
// network connection under it when known, without any closing handshake.
// Otherwise it closes the transport, which for WebSocket means a closing
// handshake that may wait for the peer: unless sync, that one happens off
// the caller's goroutine, which may be the core's reader.
func (m *mconn) drop(sync bool) {
	m.dropOnce.Do(func() {
		switch {
		case m.raw != nil:
			_ = m.raw.Close()
		case sync || m.info.Transport != "websocket":
			_ = m.Conn.Close()
		default:
			m.s.goTracked(func() { _ = m.Conn.Close() })
		}
	})
}

// goTracked runs fn on a goroutine that Close waits for, or in line once
// Close has started waiting.
func (s *Server) goTracked(fn func()) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		fn()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// count adds n carried frames and reports whether DropEvery's limit has
// been reached.
func (m *mconn) count(n int) bool {
	total := m.frames.Add(int64(n))
	m.s.mu.Lock()
	limit := m.s.sw.dropEvery
	m.s.mu.Unlock()
	return limit > 0 && total >= int64(limit)
}
