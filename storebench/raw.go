package storebench

import (
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/realtimekit/realtime/store"
	"github.com/realtimekit/realtime/store/filestore"
)

// Raw is the baseline: the bytes of each record appended to one file with
// write(2), synced as the policy says, and nothing else: no framing, no
// checksum, no state, no reclaiming. Load returns nothing.
type Raw struct {
	f      *os.File
	policy filestore.Policy
	buf    []byte
	stop   chan struct{}
	wg     sync.WaitGroup
}

// OpenRaw creates the baseline's file in dir.
func OpenRaw(dir string, p filestore.Policy, interval time.Duration) (*Raw, error) {
	f, err := os.OpenFile(filepath.Join(dir, "raw"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	r := &Raw{f: f, policy: p}
	if p == filestore.SyncInterval {
		r.stop = make(chan struct{})
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-r.stop:
					return
				case <-t.C:
					_ = f.Sync()
				}
			}
		}()
	}
	return r, nil
}

// Load returns an empty state.
func (r *Raw) Load() (*store.State, error) { return &store.State{}, nil }

// Append writes the record's channel and data, and 16 bytes for the rest.
func (r *Raw) Append(rec *store.Record) error {
	r.buf = append(append(append(r.buf[:0], make([]byte, 16)...), rec.Channel...), rec.Data...)
	_, err := r.f.Write(r.buf)
	return err
}

// Commit syncs under SyncEvery.
func (r *Raw) Commit() error {
	if r.policy == filestore.SyncEvery {
		return r.f.Sync()
	}
	return nil
}

// Close closes the file.
func (r *Raw) Close() error {
	if r.stop != nil {
		close(r.stop)
		r.wg.Wait()
	}
	return r.f.Close()
}
