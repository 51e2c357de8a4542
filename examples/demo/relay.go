package main

import (
	"io"
	"net"
	"sync"
)

// relay stands for the network between the clients and the embedded
// server: a TCP relay on 127.0.0.1 that can fail as a real path does.
// hold makes it lose everything the clients send from then on, though
// their writes succeed; cut then breaks every connection. What the
// clients sent meanwhile never reached the server: they must resend it
// after they resume.
type relay struct {
	ln     net.Listener
	target string // the server's host:port
	wg     sync.WaitGroup

	mu      sync.Mutex
	holding bool
	closed  bool
	conns   map[net.Conn]struct{}
}

func newRelay(target string) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	r.wg.Go(r.accept)
	return r, nil
}

func (r *relay) url() string { return "http://" + r.ln.Addr().String() }

func (r *relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return // closed
		}
		s, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		r.conns[c], r.conns[s] = struct{}{}, struct{}{}
		r.mu.Unlock()
		var once sync.Once
		end := func() { once.Do(func() { r.forget(c, s) }) }
		r.wg.Go(func() { defer end(); r.up(s, c) })
		r.wg.Go(func() { defer end(); io.Copy(c, s) })
	}
}

// up copies what a client sends to the server, except while holding.
func (r *relay) up(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		r.mu.Lock()
		lose := r.holding
		r.mu.Unlock()
		if n > 0 && !lose {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *relay) forget(cs ...net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(r.conns, c)
	}
}

// hold loses what clients send from now on, until cut.
func (r *relay) hold() {
	r.mu.Lock()
	r.holding = true
	r.mu.Unlock()
}

// cut breaks every connection and ends a hold: new connections pass.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		c.Close()
	}
	r.holding = false
}

// close stops accepting, breaks every connection and waits for the
// relay's goroutines.
func (r *relay) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.ln.Close()
	r.cut()
	r.wg.Wait()
}
