package watchdog

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// recorder collects the causes a Dog ends with and when (on the timer's
// goroutine; get reads them).
type recorder struct {
	mu     sync.Mutex
	causes []Cause
	at     []time.Duration
	start  time.Time
}

func (r *recorder) end(c Cause) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.causes = append(r.causes, c)
	r.at = append(r.at, time.Since(r.start))
}

func (r *recorder) get() ([]Cause, []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Cause(nil), r.causes...), append([]time.Duration(nil), r.at...)
}

func watch(idle, send time.Duration) (*Dog, *recorder) {
	r := &recorder{start: time.Now()}
	d := &Dog{}
	d.Start(idle, send, r.end)
	return d, r
}

func TestSilenceEndsAfterIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r := watch(100*time.Millisecond, time.Second)
		defer d.Stop()
		time.Sleep(time.Second)
		causes, at := r.get()
		if len(causes) != 1 || !causes[0].Silent || at[0] != 100*time.Millisecond {
			t.Fatalf("causes %+v at %v, want one silence at 100ms", causes, at)
		}
	})
}

func TestReceiptsKeepItAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r := watch(100*time.Millisecond, time.Second)
		defer d.Stop()
		for range 100 {
			time.Sleep(60 * time.Millisecond)
			d.Received()
		}
		if causes, _ := r.get(); len(causes) != 0 {
			t.Fatalf("ended %+v though something arrived every 60ms", causes)
		}
		time.Sleep(time.Second)
		causes, at := r.get()
		if len(causes) != 1 || !causes[0].Silent || at[0] != 6100*time.Millisecond {
			t.Fatalf("causes %+v at %v, want silence 100ms after the last receipt", causes, at)
		}
	})
}

func TestStuckSendEndsAtTheBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r := watch(0, 300*time.Millisecond)
		defer d.Stop()
		time.Sleep(time.Second) // idle is not watched: nothing happens
		for range 50 {          // sends that finish do not count
			d.Sending()
			time.Sleep(200 * time.Millisecond)
			d.Sent()
		}
		if causes, _ := r.get(); len(causes) != 0 {
			t.Fatalf("ended %+v", causes)
		}
		began := time.Since(r.start)
		d.Sending()
		time.Sleep(time.Second)
		causes, at := r.get()
		if len(causes) != 1 || causes[0].Silent || at[0]-began != 300*time.Millisecond || causes[0].Limit != 300*time.Millisecond {
			t.Fatalf("causes %+v at %v, want a stuck send at %v", causes, at, began+300*time.Millisecond)
		}
	})
}

func TestShortenBoundsTheSendUnderWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r := watch(0, 10*time.Second)
		defer d.Stop()
		d.Sending()
		time.Sleep(2 * time.Second)
		d.Shorten(time.Second)
		d.Shorten(5 * time.Second) // a longer bound changes nothing
		time.Sleep(10 * time.Second)
		causes, at := r.get()
		if len(causes) != 1 || causes[0].Silent || at[0] != 3*time.Second {
			t.Fatalf("causes %+v at %v, want a stuck send 1s after Shorten", causes, at)
		}
	})
}

func TestStopDisarms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r := watch(100*time.Millisecond, 100*time.Millisecond)
		d.Sending()
		d.Stop()
		d.Shorten(time.Millisecond)
		time.Sleep(time.Second)
		if causes, _ := r.get(); len(causes) != 0 {
			t.Fatalf("ended %+v after Stop", causes)
		}
	})
}
