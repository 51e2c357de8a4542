package mock

import (
	"bytes"
	"cmp"
	"context"
	"maps"
	"net/http"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/serverhooks"
	"github.com/realtimekit/realtime/server"
)

// config builds the server's configuration from the options, with the
// record of publishes on OnPublish.
func (s *Server) config(o Options) server.Config {
	cfg := o.Server
	cfg.PublishRate = cmp.Or(cfg.PublishRate, -1)
	user := cfg.OnPublish
	cfg.OnPublish = func(ctx context.Context, p server.Publication) error {
		if user != nil {
			if err := user(ctx, p); err != nil {
				return err
			}
		}
		return s.onPublish(ctx, p)
	}
	return cfg
}

// hooks are the server's test hooks on which the switches are built.
func (s *Server) hooks() serverhooks.Hooks {
	return serverhooks.Hooks{
		Handshake:     s.handshake,
		WrapConn:      s.wrap,
		OnReceive:     s.onReceive,
		FilterSend:    s.filterSend,
		OnConnOpen:    func(*serverhooks.Conn, string) { s.broadcast() },
		OnConnClose:   func(*serverhooks.Conn, string) { s.broadcast() },
		OnSessionOpen: func(string) { s.broadcast() },
		OnSessionEnd:  func(string, uint16) { s.broadcast() },
	}
}

func (s *Server) handshake(name string, _ *http.Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sw.refuse[name]
}

func (s *Server) onPublish(_ context.Context, p server.Publication) error {
	m := Message{Session: p.Client.Session, Channel: p.Channel, Data: bytes.Clone(p.Data), Seq: p.Seq, Header: maps.Clone(p.Header)}
	s.mu.Lock()
	nack := s.sw.nack
	s.mu.Unlock()
	if nack != nil {
		if code, reason := nack(m); code != 0 {
			return &server.Refusal{Code: code, Reason: reason}
		}
	}
	s.mu.Lock()
	if s.maxRecv > 0 && len(s.received) >= s.maxRecv {
		s.received[0] = Message{}
		s.received = s.received[1:]
		s.forgotten++
	}
	s.received = append(s.received, m)
	s.broadcastLocked()
	s.mu.Unlock()
	return nil
}

func (s *Server) lookup(info *serverhooks.Conn) *mconn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[info.ID]
}

func (s *Server) onReceive(info *serverhooks.Conn, f codec.Frame) {
	m := s.lookup(info)
	if m == nil {
		return
	}
	if f.Type == codec.TypeConnect {
		m.connected.Store(true)
	}
	if m.count(1) {
		m.drop(false)
	}
}

// filterSend applies DropAcks, DelayAcks and DropEvery to an outgoing
// batch.
func (s *Server) filterSend(info *serverhooks.Conn, frames []codec.Frame) []codec.Frame {
	s.mu.Lock()
	dropAcks, delay := s.sw.dropAcks, s.sw.delayAcks
	s.mu.Unlock()
	m := s.lookup(info)
	if m == nil {
		return frames
	}
	if dropAcks || delay > 0 {
		kept := frames[:0:0]
		for _, f := range frames {
			switch {
			case f.Type != codec.TypeAck:
				kept = append(kept, f)
			case !dropAcks:
				s.delays.add(m, f, delay)
			}
		}
		frames = kept
	}
	if len(frames) > 0 && m.count(len(frames)) {
		m.dropAfter.Store(true)
	}
	return frames
}
