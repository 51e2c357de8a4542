package mock

import (
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/serverhooks"
)

// switches are the faults in force; guarded by Server.mu. Each is off in
// its zero value.
type switches struct {
	nack        func(Message) (uint16, string)
	refuse      map[string]int
	acceptClose map[string]bool
	bufferSSE   bool
	slowPoll    time.Duration
	dropAcks    bool
	delayAcks   time.Duration
	dropEvery   int
}

func (sw *switches) init() {
	sw.refuse = make(map[string]int)
	sw.acceptClose = make(map[string]bool)
}

// Nack sets the function that decides, for each publish, whether to refuse
// it: a non-zero code refuses it with a nack carrying code and reason, and
// the publish is not recorded. fn runs on the publishing connection's
// goroutine, possibly on several at once. nil, the default, accepts every
// publish.
func (s *Server) Nack(fn func(m Message) (code uint16, reason string)) {
	s.mu.Lock()
	s.sw.nack = fn
	s.mu.Unlock()
}

// DropConnections abruptly closes every transport connection. Sessions
// are kept, so clients can resume them.
func (s *Server) DropConnections() {
	for _, m := range s.connList(false) {
		m.drop(false)
	}
}

// ExpireSessions forgets every session, as if its resume window had
// passed: the next resume gets a new session (hello with r:false).
// Connections stay up; their sessions end when they do.
func (s *Server) ExpireSessions() { serverhooks.ExpireSessions(s.core) }

// Restart forgets every session and drops every connection, as a
// restarted server would appear to its clients. The record (Received,
// Transports) and the switches stay as they are.
func (s *Server) Restart() {
	serverhooks.ExpireSessions(s.core)
	s.DropConnections()
}

// Inject sends raw as one transport message to every live connection
// (one that has sent connect), after its hello, bypassing the codec and
// the sequence numbers, to test how a client handles bad input.
func (s *Server) Inject(raw []byte) {
	for _, m := range s.connList(true) {
		m.inject(raw)
	}
}

// InjectFrames encodes frames with each live connection's codec and sends
// them as one message, exactly as given: nothing is numbered or kept, so
// the test chooses every Seq (one going backwards, a gap, a duplicate).
func (s *Server) InjectFrames(frames ...codec.Frame) {
	for _, m := range s.connList(true) {
		msg, err := m.info.Codec.Encode(nil, frames...)
		if err == nil {
			m.inject(msg)
		}
	}
}

// RefuseTransport makes the handshake of transport name ("websocket",
// "sse" or "longpoll") fail with HTTP status, as a proxy that blocks it
// would (403, 426; or 401 to test authentication failures). Status 0, the
// default, serves the transport again.
func (s *Server) RefuseTransport(name string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.sw.refuse, name)
	} else {
		s.sw.refuse[name] = status
	}
}

// AcceptThenClose makes transport name accept each handshake and then
// close the connection before hello, as a proxy that lets the upgrade
// through but not the traffic. Default off.
func (s *Server) AcceptThenClose(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.sw.acceptClose[name] = true
	} else {
		delete(s.sw.acceptClose, name)
	}
}

// BufferSSE makes each new SSE stream hold its events until the stream
// ends, as a buffering proxy does: headers reach the client, events do
// not. Default off.
func (s *Server) BufferSSE(on bool) {
	s.mu.Lock()
	s.sw.bufferSSE = on
	s.mu.Unlock()
}

// SlowPoll delays every long-polling response by d after the server has
// produced it. Default 0: no delay.
func (s *Server) SlowPoll(d time.Duration) {
	s.mu.Lock()
	s.sw.slowPoll = d
	s.mu.Unlock()
}

// DropAcks makes the server leave out every ack frame it sends, as if
// each were lost; the client's publishes then stay unacknowledged until a
// resume. Default off.
func (s *Server) DropAcks(on bool) {
	s.mu.Lock()
	s.sw.dropAcks = on
	s.mu.Unlock()
}

// DelayAcks makes every ack frame the server sends leave d later than it
// would, in order; other frames are not delayed. Default 0: no delay.
func (s *Server) DelayAcks(d time.Duration) {
	s.mu.Lock()
	s.sw.delayAcks = d
	s.mu.Unlock()
}

// DropEvery makes each connection close abruptly once it has carried n
// frames, counted both ways and including connect and hello. 0, the
// default, turns it off.
func (s *Server) DropEvery(n int) {
	s.mu.Lock()
	s.sw.dropEvery = n
	s.mu.Unlock()
}

// connList returns the tracked connections; if live, only those that
// received connect.
func (s *Server) connList(live bool) []*mconn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*mconn, 0, len(s.conns))
	for _, m := range s.conns {
		if !live || m.connected.Load() {
			out = append(out, m)
		}
	}
	return out
}
