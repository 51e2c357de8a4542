// Command chat runs a small chat room: several clients talk on channel
// "room" and track who is in the room.
//
// The protocol has no presence of its own, so presence here is built from
// plain channels: each member publishes "join NAME" and "leave NAME" on
// "room.presence", answers a join with "here NAME" so that the newcomer
// learns who was already there, and keeps its own member list from what it
// hears. A member that vanishes without a leave stays listed; a real
// application would add a heartbeat on the same channel.
//
//	go run ./examples/chat
//
// Given -url it talks to a running server instead of the embedded one.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/mock"
)

const (
	roomChannel     = "room"
	presenceChannel = "room.presence"
)

var everyone = []string{"alice", "bob", "carol", "dave", "erin"}

func main() {
	url := flag.String("url", "", "base URL of a running server (default: start the embedded mock server)")
	members := flag.Int("members", 3, fmt.Sprintf("people in the room, 2 to %d", len(everyone)))
	n := flag.Int("n", 2, "messages each member says")
	flag.Parse()
	if err := run(*url, *members, *n, os.Stdout); err != nil {
		log.SetFlags(0)
		log.Fatal("chat: ", err)
	}
}

func run(url string, members, n int, out io.Writer) error {
	if members < 2 || members > len(everyone) {
		return fmt.Errorf("members: want 2 to %d, got %d", len(everyone), members)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out = &lockedWriter{w: out}
	if url == "" {
		srv := mock.NewServer(nil)
		defer srv.Close()
		url = srv.URL()
		fmt.Fprintln(out, "mock server listening at", url)
	}

	r := newRoom(out)
	var ms []*member
	defer func() {
		for _, m := range ms {
			m.c.Close()
		}
	}()
	for _, name := range everyone[:members] {
		m, err := r.enter(ctx, url, name, len(ms) == 0)
		if err != nil {
			return err
		}
		ms = append(ms, m)
		// Everyone, the newcomer included, must list the whole room
		// before the next one comes in, so the output reads in order.
		names := everyone[:len(ms)]
		if err := r.waitFor(ctx, func() bool { return r.allList(ms, names) }); err != nil {
			return fmt.Errorf("%s joining: %w", name, err)
		}
	}

	for k := range n {
		for _, m := range ms {
			line := fmt.Sprintf("%s: message %d", m.name, k+1)
			if err := m.c.Publish(ctx, roomChannel, []byte(line)); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
		}
	}
	total := n * len(ms)
	if err := r.waitFor(ctx, func() bool { return r.allHeard(ms, total) }); err != nil {
		return fmt.Errorf("chat messages: %w", err)
	}
	for _, m := range ms {
		fmt.Fprintf(out, "%-5s heard all %d messages\n", m.name, total)
	}

	// Leave last-in first-out; those still there must see each one go.
	for len(ms) > 0 {
		m := ms[len(ms)-1]
		if err := m.c.Publish(ctx, presenceChannel, []byte("leave "+m.name)); err != nil {
			return fmt.Errorf("%s leaving: %w", m.name, err)
		}
		m.c.Close()
		ms = ms[:len(ms)-1]
		names := everyone[:len(ms)]
		if err := r.waitFor(ctx, func() bool { return r.allList(ms, names) }); err != nil {
			return fmt.Errorf("%s leaving: %w", m.name, err)
		}
	}
	fmt.Fprintln(out, "done: everyone heard everything and saw everyone come and go")
	return nil
}

// member is one person in the room. Its fields after c are guarded by the
// room's lock.
type member struct {
	name  string
	c     *realtime.Client
	echo  bool // print what this member hears, so the room shows once
	seen  map[string]bool
	heard int
}

// room holds every member's view, with one lock and one change signal so
// that run can wait on any condition over them.
type room struct {
	out    io.Writer
	mu     sync.Mutex
	change chan struct{}
}

func newRoom(out io.Writer) *room { return &room{out: out, change: make(chan struct{})} }

// enter connects a member, subscribes it to the room and its presence,
// then announces it.
func (r *room) enter(ctx context.Context, url, name string, echo bool) (*member, error) {
	c, err := realtime.New(url, nil)
	if err != nil {
		return nil, err
	}
	m := &member{name: name, c: c, echo: echo, seen: map[string]bool{name: true}}
	if err := c.Connect(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(r.out, "%-5s connected over %s\n", name, c.Transport())
	_, err = c.Subscribe(ctx, presenceChannel, func(msg realtime.Message) { r.presence(m, string(msg.Data)) })
	if err == nil {
		_, err = c.Subscribe(ctx, roomChannel, func(msg realtime.Message) {
			r.update(func() {
				m.heard++
				if m.echo {
					fmt.Fprintf(r.out, "%-5s hears %q\n", m.name, msg.Data)
				}
			})
		})
	}
	if err == nil {
		err = c.Publish(ctx, presenceChannel, []byte("join "+name))
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// presence applies one presence message to m's member list. It runs on
// m's dispatcher, so it answers a join with PublishAsync: waiting for the
// ack there would hold up m's other deliveries.
func (r *room) presence(m *member, msg string) {
	verb, who, ok := strings.Cut(msg, " ")
	if !ok || who == m.name {
		return
	}
	r.update(func() {
		switch verb {
		case "join", "here":
			if m.seen[who] {
				return
			}
			m.seen[who] = true
			if verb == "join" {
				// Best effort: should the answer fail, the newcomer's list
				// stays short and run's wait for a full room says so.
				m.c.PublishAsync(presenceChannel, []byte("here "+m.name))
			}
		case "leave":
			delete(m.seen, who)
		default:
			return
		}
		fmt.Fprintf(r.out, "%-5s sees %s %s; members: %s\n", m.name, who, verb, strings.Join(sorted(m.seen), ", "))
	})
}

func (r *room) update(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
	close(r.change)
	r.change = make(chan struct{})
}

func (r *room) waitFor(ctx context.Context, cond func() bool) error {
	for {
		r.mu.Lock()
		ok, change := cond(), r.change
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-change:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// allList reports whether each of ms lists exactly names. Called locked.
func (r *room) allList(ms []*member, names []string) bool {
	for _, m := range ms {
		if !slices.Equal(sorted(m.seen), sorted(set(names))) {
			return false
		}
	}
	return true
}

// allHeard reports whether each of ms heard n chat messages. Called locked.
func (r *room) allHeard(ms []*member, n int) bool {
	for _, m := range ms {
		if m.heard < n {
			return false
		}
	}
	return true
}

func set(names []string) map[string]bool {
	s := make(map[string]bool, len(names))
	for _, n := range names {
		s[n] = true
	}
	return s
}

func sorted(s map[string]bool) []string {
	out := make([]string, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// lockedWriter serialises writes from every member's dispatcher.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
