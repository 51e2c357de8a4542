package engine_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/transport"
)

// pipe is one end of an in-memory connection.
type pipe struct {
	in, out chan []byte
	done    chan struct{}
	once    *sync.Once
}

func newPipe() (client, server *pipe) {
	a, b := make(chan []byte, 64), make(chan []byte, 64)
	done, once := make(chan struct{}), &sync.Once{}
	return &pipe{in: a, out: b, done: done, once: once}, &pipe{in: b, out: a, done: done, once: once}
}

func (p *pipe) Send(ctx context.Context, msg []byte) error {
	select {
	case p.out <- append([]byte(nil), msg...):
		return nil
	case <-p.done:
		return net.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipe) Recv(ctx context.Context) ([]byte, error) {
	select {
	case m := <-p.in:
		return m, nil
	case <-p.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pipe) Close() error { p.once.Do(func() { close(p.done) }); return nil }

// memServer is a tiny in-memory server of the protocol: it answers connect
// with hello, acknowledges every sequenced frame at once, and can push
// messages. closeAfterHello makes it cut every link right after hello.
type memServer struct {
	name            string
	hb              uint32
	closeAfterHello bool
	onDial          func() // if set, called by Dial
	dials           atomic.Int64
	wg              sync.WaitGroup

	mu       sync.Mutex
	conn     *pipe // the live server end
	received []codec.Frame
	acks     uint64 // the highest ack from the client
	seq      uint64
}

var _ transport.Transport = (*memServer)(nil)

func (s *memServer) Name() string { return s.name }

func (s *memServer) Dial(ctx context.Context, _ string, _ transport.Config) (transport.Conn, error) {
	s.dials.Add(1)
	if s.onDial != nil {
		s.onDial()
	}
	c, srv := newPipe()
	s.wg.Add(1)
	go s.serve(srv)
	return c, nil
}

func (s *memServer) serve(p *pipe) {
	defer s.wg.Done()
	defer p.Close()
	cd := codec.JSON{}
	msg, err := p.Recv(context.Background())
	if err != nil {
		return
	}
	fs, err := cd.Decode(nil, msg)
	if err != nil || fs[0].Type != codec.TypeConnect {
		return
	}
	s.mu.Lock()
	resumed := fs[0].Session == "s1"
	hello, _ := cd.Encode(nil, codec.Frame{Type: codec.TypeHello, Version: codec.Version, Session: "s1", Token: "t1", Heartbeat: s.hb, Resumed: resumed, Ack: s.lastIn()})
	s.conn = p
	s.mu.Unlock()
	if p.Send(context.Background(), hello) != nil || s.closeAfterHello {
		return
	}
	for {
		msg, err := p.Recv(context.Background())
		if err != nil {
			return
		}
		fs, err := cd.Decode(nil, msg)
		if err != nil {
			return
		}
		var ack uint64
		s.mu.Lock()
		for _, f := range fs {
			switch {
			case f.Type.Sequenced():
				if f.Seq > s.lastIn() {
					s.received = append(s.received, f)
				}
				ack = f.Seq
			case f.Type == codec.TypeAck:
				s.acks = max(s.acks, f.Ack)
			}
		}
		s.mu.Unlock()
		if ack > 0 {
			out, _ := cd.Encode(nil, codec.Frame{Type: codec.TypeAck, Ack: ack})
			if p.Send(context.Background(), out) != nil {
				return
			}
		}
	}
}

// lastIn is the highest client sequence number received; s.mu is held.
func (s *memServer) lastIn() uint64 {
	if len(s.received) == 0 {
		return 0
	}
	return s.received[len(s.received)-1].Seq
}

// push sends a message frame on the live link.
func (s *memServer) push(channel, data string) error {
	s.mu.Lock()
	s.seq++
	f := codec.Frame{Type: codec.TypeMessage, Seq: s.seq, Channel: channel, Data: []byte(data)}
	p := s.conn
	s.mu.Unlock()
	msg, _ := codec.JSON{}.Encode(nil, f)
	return p.Send(context.Background(), msg)
}

func (s *memServer) snapshot() (received []codec.Frame, acks uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]codec.Frame(nil), s.received...), s.acks
}
