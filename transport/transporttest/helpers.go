package transporttest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/realtimekit/realtime/transport"
)

// message returns message i of a sequence: JSON text in text mode (with
// non-ASCII characters and varying length), every byte value in binary mode.
func (m mode) message(i int) []byte {
	if !m.binary {
		return fmt.Appendf(nil, `{"i":%d,"s":"ordre é✓ %s"}`, i, strings.Repeat("x", i%64))
	}
	b := make([]byte, 8+256)
	binary.BigEndian.PutUint64(b, uint64(i))
	for j := range 256 {
		b[8+j] = byte(j + i)
	}
	return b
}

// sized returns a message of exactly n bytes, valid UTF-8 in text mode.
func (m mode) sized(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		if m.binary {
			b[i] = byte(i * 7)
		} else {
			b[i] = 'a' + byte(i%26)
		}
	}
	return b
}

// random returns n pseudo-random bytes from seed: letters in text mode.
func (m mode) random(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		if m.binary {
			b[i] = byte(r.Uint32())
		} else {
			b[i] = 'a' + byte(r.IntN(26))
		}
	}
	return b
}

type result struct {
	msg []byte
	err error
}

// recvAsync starts one Recv; its result arrives on the channel.
func recvAsync(ctx context.Context, c transport.Conn) <-chan result {
	ch := make(chan result, 1)
	go func() {
		msg, err := c.Recv(ctx)
		ch <- result{msg, err}
	}()
	return ch
}

// drain receives until Recv fails and delivers that error.
func drain(ctx context.Context, c transport.Conn) <-chan error {
	ch := make(chan error, 1)
	go func() {
		for {
			if _, err := c.Recv(ctx); err != nil {
				ch <- err
				return
			}
		}
	}()
	return ch
}

// sendAll sends messages 0 to n-1 of m and delivers the outcome.
func sendAll(ctx context.Context, c transport.Conn, m mode, n int) <-chan error {
	ch := make(chan error, 1)
	go func() {
		for i := range n {
			if err := c.Send(ctx, m.message(i)); err != nil {
				ch <- fmt.Errorf("send of message %d: %w", i, err)
				return
			}
		}
		ch <- nil
	}()
	return ch
}

// recvAll receives n messages of m and checks their order and content.
func recvAll(ctx context.Context, c transport.Conn, m mode, n int) error {
	for i := range n {
		got, err := c.Recv(ctx)
		if err != nil {
			return fmt.Errorf("recv of message %d: %w", i, err)
		}
		if want := m.message(i); !bytes.Equal(got, want) {
			return fmt.Errorf("message %d: got %s, want %s", i, short(got), short(want))
		}
	}
	return nil
}

func short(b []byte) string {
	if len(b) > 80 {
		return fmt.Sprintf("%q... (%d bytes)", b[:80], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// await returns the value from ch, failing t if none comes within d.
func await[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		panic("unreachable")
	}
}

// async runs f on its own goroutine and delivers its result.
func async[T any](f func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	return ch
}

// testCtx is a ctx for a whole test: it ends at the deadline or when the test
// does, which unblocks any goroutine a failed test left behind.
func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
