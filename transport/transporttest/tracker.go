package transporttest

import (
	"context"
	"errors"
	"net"
	"sync"
)

// tracker records the network connections of one end, so that end can
// vanish without a goodbye: as a listener for the server, a dialer for the
// client. Once killed it refuses new connections.
type tracker struct {
	net.Listener // server end only
	mu           sync.Mutex
	conns        []net.Conn
	dead         bool
}

func (k *tracker) add(c net.Conn) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		_ = c.Close()
		return false
	}
	k.conns = append(k.conns, c)
	return true
}

func (k *tracker) Accept() (net.Conn, error) {
	for {
		c, err := k.Listener.Accept()
		if err != nil || k.add(c) {
			return c, err
		}
	}
}

var errVanished = errors.New("transporttest: this end has vanished")

func (k *tracker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if !k.add(c) {
		return nil, errVanished
	}
	return c, nil
}

// kill closes every connection (and the listener) at once.
func (k *tracker) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dead = true
	if k.Listener != nil {
		_ = k.Listener.Close()
	}
	for _, c := range k.conns {
		_ = c.Close()
	}
	k.conns = nil
}
