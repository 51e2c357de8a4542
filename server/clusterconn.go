package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/realtimekit/realtime/codec"
)

// codeUnavailable ends a connection whose state the engine cannot store
// right now: the client keeps its publishes and comes back after its
// backoff (docs/PROTOCOL.md section 8).
const codeUnavailable = 5003

const reasonUnavailable = "service unavailable: try again later"

// checkpointEvery is how long a moved resume point may wait to be stored
// when no acknowledgement depends on it.
const checkpointEvery = time.Second

func (srv *Server) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(srv.base, srv.cfg.HookTimeout)
}

// hubAdd has the hub deliver channel to s, and notes it for clean-up.
func (srv *Server) hubAdd(ctx context.Context, s *session, channel string) error {
	if err := srv.hub.subscribe(ctx, channel, s); err != nil {
		return err
	}
	s.mu.Lock()
	s.cl.inHub[channel] = struct{}{}
	s.mu.Unlock()
	return nil
}

// openClustered makes the new session s durable before its hello.
func (c *conn) openClustered(s *session) bool {
	srv := c.srv
	ctx, cancel := srv.opCtx()
	defer cancel()
	err := srv.hubAdd(ctx, s, s.cl.private)
	if err == nil {
		s.proc.Lock()
		s.mu.Lock()
		rec := s.recordLocked()
		s.mu.Unlock()
		if err = srv.cl.store.Create(ctx, &rec); err == nil {
			s.cl.version, s.cl.wrote, s.cl.wAcked, s.cl.wPos = rec.Version, time.Now(), rec.Acked, rec.Pos
		}
		s.proc.Unlock()
	}
	if err != nil {
		srv.cfg.Logger.Warn("session not stored", "err", err)
		s.mu.Lock()
		s.cl.moved = true // nothing to delete
		s.endLocked(0, "")
		s.mu.Unlock()
		c.refuse(codeUnavailable, reasonUnavailable)
		return false
	}
	return true
}

// resumeClustered finds the session connect presents in the store, and
// takes it over: from this node's memory if it is current, else rebuilt
// from the log. refused is true when c was refused (the engine is
// unreachable); s is nil with refused false when there is no session to
// resume.
func (c *conn) resumeClustered(connect codec.Frame) (s *session, refused bool) {
	srv := c.srv
	ctx, cancel := srv.opCtx()
	defer cancel()
	rec, err := srv.cl.store.Load(ctx, connect.Session)
	switch {
	case errors.Is(err, ErrNoSession):
		srv.cfg.Logger.Info("session not resumed: no record")
		return nil, false
	case err != nil:
		srv.cfg.Logger.Warn("session not loaded", "err", err)
		c.refuse(codeUnavailable, reasonUnavailable)
		return nil, true
	}
	current := subtle.ConstantTimeCompare([]byte(rec.Token), []byte(connect.Token)) == 1
	previous := rec.PrevToken != "" && subtle.ConstantTimeCompare([]byte(rec.PrevToken), []byte(connect.Token)) == 1
	if !(current || previous) || rec.Owner != c.client.Identity.ID || connect.Ack < rec.Acked {
		srv.cfg.Logger.Info("session not resumed: token, owner or ack do not match", "ack", connect.Ack, "acked", rec.Acked)
		return nil, false
	}
	if local := srv.lookup(rec.ID); local != nil {
		local.proc.Lock()
		same := local.cl.version == rec.Version
		local.proc.Unlock()
		// A copy that has not sent what the client acknowledges is not
		// current, whatever its version says: the log has the rest.
		local.mu.Lock()
		behind := connect.Ack > local.nextOut
		local.mu.Unlock()
		if same && !behind {
			return c.resume(connect), false
		}
		if behind {
			srv.cfg.Logger.Info("local copy of the session behind the client: rebuilt from the log", "ack", connect.Ack)
		}
		local.mu.Lock()
		local.cl.moved = true
		local.endLocked(0, "")
		local.mu.Unlock()
	}

	s = newSession(srv, rec.Owner)
	s.id, s.token, s.prevToken = rec.ID, rec.Token, rec.PrevToken
	s.lastIn, s.ackSentMax, s.acked, s.nextOut = rec.LastIn, rec.LastIn, rec.Acked, rec.Acked
	s.cl = newClusterSession(rec.ID, rec.Acked, rec.Pos, rec.Subs)
	s.cl.replaying, s.cl.stored, s.cl.version = true, rec.LastIn, rec.Version
	s.cl.wAcked, s.cl.wPos = rec.Acked, rec.Pos
	s.cl.doubt = doubt{above: rec.LastIn, upTo: rec.LastIn + Window, from: rec.Pos}
	for _, ch := range rec.Subs {
		s.subs[ch] = struct{}{}
	}
	switch srv.addSession(s) {
	case ErrClosed:
		return nil, true
	case errFull:
		c.refuse(4529, "too many sessions, try later")
		return nil, true
	}
	err = srv.rebuild(ctx, s, append([]string{s.cl.private}, rec.Subs...))
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case errors.Is(err, ErrTrimmed), err == nil && connect.Ack > s.nextOut:
		// Gone from the log, or a client claiming what was never sent:
		// nobody can resume this session.
		srv.cfg.Logger.Info("session not resumed: not in the log", "trimmed", err != nil, "ack", connect.Ack, "rebuilt", s.nextOut, "from", rec.Acked, "pos", rec.Pos)
		s.endLocked(0, "")
		return nil, false
	case err != nil:
		srv.cfg.Logger.Warn("session not rebuilt", "err", err)
		s.cl.moved = true // another node may still resume it
		s.endLocked(0, "")
		c.refuse(codeUnavailable, reasonUnavailable)
		return nil, true
	case s.ended:
		return nil, false
	}
	srv.stats.restored.Add(1)
	c.takeOverLocked(s, connect, current)
	return s, false
}

// rebuild numbers the session's frames after its resume point again, from
// the log, then hands over to the live deliveries held meanwhile. chans
// are the channels the hub already delivers to s.
func (srv *Server) rebuild(ctx context.Context, s *session, chans []string) error {
	for _, ch := range chans {
		if err := srv.hubAdd(ctx, s, ch); err != nil {
			return err
		}
	}
	// The hub delivers every publication after to: read up to it.
	to, err := srv.cl.log.Last(ctx)
	if err != nil {
		return err
	}
	from := s.cl.lastPos
	for {
		added := ""
		err := srv.cl.log.Read(ctx, from, to, chans, func(m Message) bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.ended {
				return false
			}
			s.applyLocked(m)
			from = m.Pos
			if m.Channel == s.cl.private && len(m.Data) > 0 && m.Data[0] == evSubscribe {
				if ch := string(m.Data[1:]); !slices.Contains(chans, ch) {
					added = ch
					return false
				}
			}
			return true
		})
		if err != nil || added == "" {
			if err != nil {
				return err
			}
			break
		}
		// A subscription made in the part being read: deliver it live
		// from now on, and read it from here to what the log holds now.
		if err := srv.hubAdd(ctx, s, added); err != nil {
			return err
		}
		chans = append(chans, added)
		if to, err = srv.cl.log.Last(ctx); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.cl.held {
		if s.ended {
			break
		}
		s.applyLocked(m)
	}
	s.cl.held, s.cl.replaying = nil, false
	return nil
}

// persist stores the session's record when an ack waits on it (LastIn
// beyond what the store holds), when force is set, or when the resume
// point moved at least checkpointEvery ago. The caller holds s.proc.
func (srv *Server) persist(s *session, force bool) error {
	cs := s.cl
	s.mu.Lock()
	moved := cs.ck.acked != cs.wAcked || cs.ck.pos != cs.wPos
	due := force || s.lastIn > cs.stored || moved && time.Since(cs.wrote) >= checkpointEvery
	if s.ended || !due {
		s.mu.Unlock()
		return nil
	}
	rec := s.recordLocked()
	s.mu.Unlock()
	ctx, cancel := srv.opCtx()
	defer cancel()
	if err := srv.cl.store.Update(ctx, &rec); err != nil {
		return err
	}
	cs.version, cs.wrote, cs.wAcked, cs.wPos = rec.Version, time.Now(), rec.Acked, rec.Pos
	s.mu.Lock()
	cs.stored = max(cs.stored, rec.LastIn)
	for ref := range cs.nacked {
		if ref <= cs.stored {
			delete(cs.nacked, ref)
		}
	}
	if s.conn != nil {
		s.conn.wakeup() // an ack may be due
	}
	s.mu.Unlock()
	return nil
}

// persistFailed ends c after its session's record could not be stored:
// for good if another node took the session, for now if the engine is
// unreachable.
func (c *conn) persistFailed(err error) {
	s := c.sess
	if errors.Is(err, ErrSessionMoved) || errors.Is(err, ErrNoSession) {
		s.mu.Lock()
		s.cl.moved = true
		s.endLocked(0, "")
		s.mu.Unlock()
		return
	}
	c.srv.cfg.Logger.Warn("session not stored", "err", err)
	c.refuse(codeUnavailable, reasonUnavailable)
}

// touch rewrites the records of this node's connected sessions, so that
// the store keeps them, and stores moved resume points.
func (srv *Server) touch() {
	srv.mu.Lock()
	live := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		live = append(live, s)
	}
	srv.mu.Unlock()
	every := srv.cfg.ResumeWindow / 3
	for _, s := range live {
		if !s.proc.TryLock() {
			continue // a connection is acting on frames and will write
		}
		s.mu.Lock()
		connected := s.conn != nil
		if s.acked == s.nextOut && !s.cl.replaying && !s.ended {
			// Nothing kept: the resume point follows the log, so that an
			// idle session is not left behind what the log keeps.
			s.checkpointLocked(s.acked)
		}
		s.mu.Unlock()
		var err error
		if connected {
			err = srv.persist(s, time.Since(s.cl.wrote) >= every)
		}
		s.proc.Unlock()
		if err != nil {
			srv.cfg.Logger.Debug("session record not refreshed", "err", err)
		}
	}
}

// cleanupClustered leaves the hub and, unless the session lives on
// elsewhere or the server is shutting down, deletes its record.
func (srv *Server) cleanupClustered(s *session) {
	s.mu.Lock()
	chans := slices.Collect(maps.Keys(s.cl.inHub))
	s.cl.inHub = map[string]struct{}{}
	keep := s.cl.moved || s.endCode == 1001
	s.subs = nil
	s.mu.Unlock()
	for _, ch := range chans {
		srv.unsubscribe(s, ch)
	}
	if keep || srv.isClosed() || !s.proc.TryLock() {
		return // the store's time to live removes it
	}
	version := s.cl.version
	s.proc.Unlock()
	ctx, cancel := srv.opCtx()
	defer cancel()
	if err := srv.cl.store.Delete(ctx, s.id, version); err != nil && !errors.Is(err, ErrSessionMoved) && !errors.Is(err, ErrNoSession) {
		srv.cfg.Logger.Debug("session record not deleted", "err", err)
	}
}

// subscribeClustered has the hub deliver the channel to the session, then
// publishes the subscription as an event: from its position on, the
// channel's publications are numbered for the client, on any node.
func (c *conn) subscribeClustered(ctx context.Context, f *codec.Frame) error {
	s := c.sess
	if err := c.srv.hubAdd(ctx, s, f.Channel); err != nil {
		return err
	}
	m := Message{Channel: s.cl.private, Data: subscribeEvent(evSubscribe, f.Channel), ID: s.pubID(f.Seq)}
	return c.srv.cfg.Broker.Publish(ctx, m)
}

// unsubscribeClustered publishes the end of a subscription as an event,
// waits for the log to deliver it (publications before it are still
// numbered for the client), then has the hub stop delivering the channel.
func (c *conn) unsubscribeClustered(ctx context.Context, f *codec.Frame) error {
	s := c.sess
	m := Message{Channel: s.cl.private, Data: subscribeEvent(evUnsubscribe, f.Channel), ID: s.pubID(f.Seq)}
	if err := c.srv.cfg.Broker.Publish(ctx, m); err != nil {
		return err
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		_, active := s.cl.active[f.Channel]
		ended := s.ended
		if !active && !ended {
			delete(s.cl.inHub, f.Channel)
		}
		s.mu.Unlock()
		if ended {
			return nil
		}
		if !active {
			c.srv.unsubscribe(s, f.Channel)
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// doubt covers the publishes a session rebuilt on this node may receive
// again although the node that served it before stored them: that node
// died, or lost the session to this one, after storing a publish and
// before storing LastIn. The client can have sent at most Window of them.
type doubt struct {
	above, upTo uint64                     // client seqs in (above, upTo]
	from        uint64                     // the log position to look from
	seen        map[string]map[uint64]bool // by channel: seqs found stored
}

// storedElsewhere reports whether the client's publish f is in the log
// already, published by another node for this session. The first publish
// on a channel reads the channel's part of the log once.
func (c *conn) storedElsewhere(ctx context.Context, f *codec.Frame) (bool, error) {
	s := c.sess
	d := &s.cl.doubt
	if f.Seq <= d.above || f.Seq > d.upTo {
		return false, nil
	}
	seen, ok := d.seen[f.Channel]
	if !ok {
		last, err := c.srv.cl.log.Last(ctx)
		if err != nil {
			return false, err
		}
		seen = map[uint64]bool{}
		prefix := s.id + ":"
		err = c.srv.cl.log.Read(ctx, d.from, last, []string{f.Channel}, func(m Message) bool {
			if rest, ok := strings.CutPrefix(m.ID, prefix); ok {
				if seq, err := strconv.ParseUint(rest, 10, 64); err == nil {
					seen[seq] = true
				}
			}
			return true
		})
		if err != nil {
			return false, err
		}
		if d.seen == nil {
			d.seen = map[string]map[uint64]bool{}
		}
		d.seen[f.Channel] = seen
	}
	return seen[f.Seq], nil
}
