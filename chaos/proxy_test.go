package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// netProxy is an in-process toxiproxy in front of one upstream address.
// Toxics added to it apply to the connections open at that moment and to
// every new one, until removed.
//
// Adding or removing a toxic interrupts the toxics of every open link
// while holding the proxy's toxic lock. In toxiproxy v2.12.0 that can
// deadlock: a link whose client has just gone stops reading its last
// channel and waits for that lock to unregister, while a toxic feeding
// the channel (a slicer above all, which sends piece by piece) waits to
// hand over its data before it can be interrupted. The chaos loop keeps
// such changes away from the moments connections die, and every change is
// bounded here, so that a deadlocked proxy fails the test instead of
// hanging it.
type netProxy struct {
	p      *toxiproxy.Proxy
	wedged atomic.Bool // a change never returned: the proxy is unusable

	mu     sync.Mutex
	active map[string]bool
}

// changeTimeout bounds one toxic change. Removing a toxic may take up to
// 5 s by itself (toxiproxy flushes what the toxic held with that limit).
const changeTimeout = 20 * time.Second

// startProxy puts a proxy in front of the server at baseURL and returns it
// with the base URL a client must dial to go through it.
func startProxy(t *testing.T, baseURL string) (*netProxy, string) {
	t.Helper()
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(api, "rt", "127.0.0.1:0", u.Host)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	np := &netProxy{p: p, active: make(map[string]bool)}
	t.Cleanup(func() {
		// Stop would wait for an accept loop stuck on the same lock.
		if !np.wedged.Load() {
			p.Stop()
		}
	})
	u.Host = p.Listen
	return np, u.String()
}

// toxic is one toxiproxy toxic: its name (unique while in force), type,
// direction ("downstream" is server to client) and attributes.
type toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Attributes map[string]int `json:"attributes"`
}

func (np *netProxy) add(t *testing.T, tx toxic) {
	t.Helper()
	b, err := json.Marshal(tx)
	if err != nil {
		t.Fatal(err)
	}
	np.change(t, "adding "+tx.Name, func() error {
		_, err := np.p.Toxics.AddToxicJson(strings.NewReader(string(b)))
		return err
	})
	np.mu.Lock()
	np.active[tx.Name] = true
	np.mu.Unlock()
}

func (np *netProxy) remove(t *testing.T, name string) {
	t.Helper()
	np.mu.Lock()
	on := np.active[name]
	delete(np.active, name)
	np.mu.Unlock()
	if on {
		np.change(t, "removing "+name, func() error {
			return np.p.Toxics.RemoveToxic(context.Background(), name)
		})
	}
}

// change runs f, a change of toxics, within changeTimeout, and fails the
// test if it does not succeed.
func (np *netProxy) change(t *testing.T, what string, f func() error) {
	t.Helper()
	if err := np.bounded(f); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// bounded runs f within changeTimeout. A change that does not return
// leaves its goroutine behind, stuck in toxiproxy; the test fails then
// anyway, and says why.
func (np *netProxy) bounded(f func() error) error {
	if np.wedged.Load() {
		return errors.New("toxiproxy is deadlocked since an earlier change")
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(changeTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		np.wedged.Store(true)
		return fmt.Errorf("toxiproxy did not return within %v: deadlocked between a toxic change and a closing link (see netProxy)", changeTimeout)
	}
}

func (np *netProxy) on(name string) bool {
	np.mu.Lock()
	defer np.mu.Unlock()
	return np.active[name]
}

// reset removes every toxic, so that a failed test's clean-up does not
// stall on a black hole.
func (np *netProxy) reset() error {
	err := np.bounded(func() error {
		np.p.Toxics.ResetToxics(context.Background())
		return nil
	})
	np.mu.Lock()
	clear(np.active)
	np.mu.Unlock()
	return err
}
