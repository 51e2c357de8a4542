package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/serverhooks"
	"github.com/realtimekit/realtime/internal/watchdog"
	"github.com/realtimekit/realtime/transport"
)

// conn is one transport connection carrying a session. The transport
// handler's goroutine runs the handshake and then reads; one writer
// goroutine per conn sends everything after hello.
type conn struct {
	srv    *Server
	info   *serverhooks.Conn
	client *Client
	tc     transport.Conn
	cd     codec.Codec
	ctx    context.Context
	cancel context.CancelFunc

	wake       chan struct{} // capacity 1: work for the writer
	stopCh     chan struct{} // closed by stop
	writerDone chan struct{}
	lastRecv   atomic.Int64 // unix nanoseconds

	mu        sync.Mutex
	stopped   bool
	writing   bool // the writer runs and will send the stop's error frame
	errCode   uint16
	errReason string

	// Guarded by sess.mu.
	sess     *session
	sent     uint64 // highest server sequence number sent on this conn
	ackSent  uint64 // highest ack sent on this conn
	forceAck bool   // resumed: an ack must follow the replay
	replayTo uint64 // the highest sequence number to replay
	// inbox is the client's byte budget from connect (zero: none): the
	// most payload bytes of sequenced frames unacknowledged at once.
	inbox uint64
	held  uint64 // payload bytes sent on this conn and not acknowledged; guarded by sess.mu

	// Used by the reading goroutine only.
	lastSeq uint64  // highest client sequence number seen on this conn
	hookCtx hookCtx // the frames' hooks' ctx, while a message is processed
	pending bool    // counted as awaiting connect
	counted bool    // counted by enter, so leave uncounts it

	// Used by whichever goroutine sends: the handler's until hello is
	// sent, then the writer's.
	enc []byte
	dog watchdog.Dog // ends the connection when a send is not taken in time
}

func (c *conn) wakeup() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// stop ends the connection, with an error frame first when code is not
// zero. It never blocks, so it may be called under session.mu.
func (c *conn) stop(code uint16, reason string) {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	c.errCode, c.errReason = code, reason
	graceful := code != 0 && c.writing
	close(c.stopCh)
	c.mu.Unlock()
	if !graceful {
		c.cancel()
	}
}

// abort closes the transport at once, for a Close whose ctx ended.
func (c *conn) abort() {
	c.cancel()
	if c.tc != nil {
		_ = c.tc.Close()
	}
}

// accept runs one connection; see transport.ServerConfig.Accept.
func (srv *Server) accept(name string, r *http.Request, tc transport.Conn) {
	cd := srv.codec(r.URL.Query().Get("codec"))
	if cd == nil { // Check lets none through; a transport might skip it
		return
	}
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		return
	}
	srv.wg.Add(1)
	srv.mu.Unlock()
	defer srv.wg.Done() // last: Close waits for the transport's Close too

	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		srv:        srv,
		info:       &serverhooks.Conn{ID: srv.nextID.Add(1), Transport: name, Codec: cd, Request: r},
		client:     &Client{Identity: handshakeOf(r).identity, Transport: name, Request: r},
		cd:         cd,
		ctx:        ctx,
		cancel:     cancel,
		wake:       make(chan struct{}, 1),
		stopCh:     make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	if w := srv.hooks.WrapConn; w != nil {
		tc = w(c.info, tc)
	}
	c.tc = tc
	defer tc.Close()
	defer cancel()
	// Reads and sends take no ctx of their own (a per-call ctx costs an
	// allocation and a registration each): ending ctx closes the transport,
	// which ends them, and dog bounds each send by the time a live peer
	// needs to take it. (Silence is the writer's to watch: it pings.)
	defer context.AfterFunc(ctx, func() { _ = tc.Close() })()
	hb := srv.cfg.Heartbeat
	c.dog.Start(0, hb+hb/2, func(cause watchdog.Cause) {
		srv.cfg.Logger.Debug("send not taken in time, closing", "waited", cause.For)
		cancel()
	})
	defer c.dog.Stop()

	// Registered under the lock that Close sets closed with, so that Close
	// either stops this connection or it sees closed here.
	srv.mu.Lock()
	closed := srv.closed
	if !closed {
		srv.conns[c] = struct{}{}
	}
	srv.mu.Unlock()
	if closed {
		return
	}
	defer func() {
		srv.mu.Lock()
		delete(srv.conns, c)
		srv.mu.Unlock()
	}()
	defer srv.leave(c)
	if r := srv.enter(c); r != nil {
		c.refuse(r.Code, r.Reason)
		return
	}
	c.run()
}

func (c *conn) run() {
	srv := c.srv
	log := srv.cfg.Logger.With("transport", c.info.Transport)
	start := time.Now()
	c.lastRecv.Store(start.UnixNano())
	frames, ok := c.recvFirst()
	srv.connected(c)
	if !ok {
		return
	}
	hello, ok := c.handshake(frames[0])
	if !ok {
		return
	}
	s := c.sess
	// From here on a stop's error frame is the writer's to send, even if
	// the stop comes before the writer starts.
	c.mu.Lock()
	c.writing = !c.stopped
	c.mu.Unlock()
	// Counted before hello goes out, so that a client holding a hello is
	// always counted.
	srv.addOpen(1)
	if _, err := c.send([]codec.Frame{hello}); err != nil {
		log.Debug("hello not sent", "err", err)
		srv.addOpen(-1)
		c.detach()
		return
	}
	log.Debug("connection open", "resumed", hello.Resumed)
	if h := srv.hooks.OnConnOpen; h != nil {
		h(c.info, s.id)
	}
	if h := srv.cfg.OnConnect; h != nil {
		h(c.client)
	}
	opened := time.Now()
	if srv.cfg.Observer != nil {
		srv.observe(Event{Kind: EventConnect, Client: c.client, Resumed: hello.Resumed, Latency: opened.Sub(start)})
	}

	srv.wg.Add(1)
	go c.writeLoop()

	if c.process(frames[1:]) {
		c.readLoop()
	}
	c.stop(0, "")
	<-c.writerDone
	c.detach()

	srv.addOpen(-1)
	log.Debug("connection closed")
	if h := srv.hooks.OnConnClose; h != nil {
		h(c.info, s.id)
	}
	if h := srv.cfg.OnDisconnect; h != nil {
		h(c.client)
	}
	if srv.cfg.Observer != nil {
		srv.observe(Event{Kind: EventDisconnect, Client: c.client, Latency: time.Since(opened)})
	}
}

// recvFirst reads the message that must start with connect, within
// ConnectTimeout.
func (c *conn) recvFirst() ([]codec.Frame, bool) {
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.ConnectTimeout)
	defer cancel()
	msg, err := c.tc.Recv(ctx)
	if err != nil {
		c.refuseRecv(err)
		return nil, false
	}
	frames, ok := c.decode(msg, nil)
	if !ok {
		return nil, false
	}
	if f := frames[0]; f.Type != codec.TypeConnect {
		c.refuse(4000, "the first frame must be connect")
		return nil, false
	} else if f.Version != codec.Version {
		c.refuse(4005, "unsupported protocol version")
		return nil, false
	}
	return frames, true
}

// decode turns a received message into frames, or refuses the connection.
func (c *conn) decode(msg []byte, dst []codec.Frame) ([]codec.Frame, bool) {
	c.lastRecv.Store(time.Now().UnixNano())
	frames, err := c.cd.Decode(dst, msg)
	var se *codec.SizeError
	switch {
	case errors.As(err, &se):
		c.refuse(4009, "message too large")
		return nil, false
	case err != nil:
		c.refuse(4000, "bad frame: "+err.Error())
		return nil, false
	case len(frames) == len(dst):
		c.refuse(4000, "bad frame: empty batch")
		return nil, false
	}
	if h := c.srv.hooks.OnReceive; h != nil {
		for _, f := range frames[len(dst):] {
			h(c.info, f)
		}
	}
	return frames, true
}

// refuseRecv answers a failed read: a message over the limit gets 4009.
func (c *conn) refuseRecv(err error) {
	if errors.Is(err, transport.ErrTooLarge) {
		c.refuse(4009, "message too large")
	}
}

// refuse ends the connection with an error frame. Before the writer runs
// the frame is sent from here; after, the writer sends it.
func (c *conn) refuse(code uint16, reason string) {
	c.mu.Lock()
	writing := c.writing
	c.mu.Unlock()
	if writing {
		c.stop(code, reason)
		return
	}
	_, _ = c.send([]codec.Frame{{Type: codec.TypeError, Code: code, Reason: reason}})
	c.stop(0, "")
}

// handshake opens or resumes the session named by connect and returns the
// hello to send.
func (c *conn) handshake(connect codec.Frame) (codec.Frame, bool) {
	srv := c.srv
	c.inbox = connect.InboxBytes // before any collect: the writer starts after hello
	var s *session
	if srv.cl != nil && connect.Session != "" {
		var refused bool
		if s, refused = c.resumeClustered(connect); refused {
			return codec.Frame{}, false
		}
	} else {
		s = c.resume(connect)
	}
	resumed := s != nil
	if s == nil {
		s = newSession(srv, c.client.Identity.ID)
		c.sess = s
		s.conn = c
		switch srv.addSession(s) {
		case ErrClosed:
			return codec.Frame{}, false
		case errFull:
			c.refuse(4529, "too many sessions, try later")
			return codec.Frame{}, false
		}
		if srv.cl != nil && !c.openClustered(s) {
			return codec.Frame{}, false
		}
		if h := srv.hooks.OnSessionOpen; h != nil {
			h(s.id)
		}
	}
	// Wait for a connection this one took the session from to finish the
	// frame it is acting on, so that lastIn is final.
	s.proc.Lock()
	if srv.cl != nil && resumed {
		// The new token, and the lastIn the hello acknowledges, must be
		// stored before the client holds them.
		if err := srv.persist(s, true); err != nil {
			s.proc.Unlock()
			c.persistFailed(err)
			return codec.Frame{}, false
		}
	}
	s.mu.Lock()
	hello := codec.Frame{
		Type:      codec.TypeHello,
		Version:   codec.Version,
		Session:   s.id,
		Token:     s.token,
		Heartbeat: uint32(srv.cfg.Heartbeat / time.Millisecond),
		Resumed:   resumed,
		Ack:       s.lastIn,
	}
	ok := s.conn == c && !s.ended
	s.mu.Unlock()
	s.proc.Unlock()
	c.client.Session = s.id
	return hello, ok
}

// resume attaches c to the session connect presents, taking it over from
// any connection it has, or returns nil when there is no such session.
func (c *conn) resume(connect codec.Frame) *session {
	if connect.Session == "" {
		return nil
	}
	s := c.srv.lookup(connect.Session)
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	current := subtle.ConstantTimeCompare([]byte(s.token), []byte(connect.Token)) == 1
	previous := s.prevToken != "" && subtle.ConstantTimeCompare([]byte(s.prevToken), []byte(connect.Token)) == 1
	if s.ended || !(current || previous) || s.owner != c.client.Identity.ID {
		c.srv.cfg.Logger.Info("session not resumed: ended, or token or owner do not match", "ended", s.ended)
		return nil
	}
	// A resume point outside what was kept cannot be honoured: the client
	// would miss frames or expect ones that never existed.
	if connect.Ack < s.acked || connect.Ack > s.nextOut {
		c.srv.cfg.Logger.Info("session not resumed: ack outside what was kept", "ack", connect.Ack, "acked", s.acked, "sent", s.nextOut)
		return nil
	}
	c.takeOverLocked(s, connect, current)
	return s
}

// takeOverLocked attaches c to s, which connect resumes with the current
// token or the previous one, taking it over from any connection it has.
// The caller holds s.mu and checked connect.
func (c *conn) takeOverLocked(s *session, connect codec.Frame, current bool) {
	if old := s.conn; old != nil {
		old.stop(0, "")
	}
	c.srv.attached(s)
	s.conn, c.sess = c, s
	// The hello carrying the new token may be lost with this connection, so
	// the token the client presented stays good until it presents the new
	// one: otherwise one dropped connection would lose the session.
	if current {
		s.prevToken = s.token
	}
	s.token = randomToken()
	s.ackLocked(connect.Ack)
	c.sent, c.forceAck, c.replayTo = connect.Ack, true, s.nextOut
	c.srv.stats.resumed.Add(1)
}

// detach leaves the session without a connection, for its resume window.
func (c *conn) detach() {
	s := c.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c {
		return
	}
	s.conn = nil
	if !s.ended && !c.srv.detached(s) {
		s.endLocked(0, "")
	}
}

func (srv *Server) addOpen(n int) {
	srv.mu.Lock()
	srv.open += n
	srv.mu.Unlock()
}
