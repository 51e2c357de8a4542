package storebench

import (
	"encoding/binary"
	"errors"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/store"
	"github.com/realtimekit/realtime/store/filestore"
)

// Bolt is a store.Store on a bbolt file: one bucket of operations by id,
// one index of their sequence numbers, one of the session's fields. Each
// Append is a transaction. Policies map onto bbolt's as closely as they
// can: SyncEvery fsyncs every transaction (bbolt's default); SyncInterval
// and SyncNever set NoSync, and SyncInterval syncs the file every
// interval. bbolt documents NoSync as unsafe: a power cut may leave the
// file corrupt, not only behind.
type Bolt struct {
	db     *bolt.DB
	policy filestore.Policy
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

var (
	bucketOps  = []byte("ops")
	bucketSeqs = []byte("seqs")
	bucketMeta = []byte("meta")
)

// OpenBolt opens (creating) the bbolt store at path.
func OpenBolt(path string, policy filestore.Policy, interval time.Duration) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: policy != filestore.SyncEvery})
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketOps, bucketSeqs, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Bolt{db: db, policy: policy}
	if policy == filestore.SyncInterval {
		s.stop = make(chan struct{})
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-s.stop:
					return
				case <-t.C:
					if err := db.Sync(); err != nil {
						s.mu.Lock()
						s.err = err
						s.mu.Unlock()
					}
				}
			}
		}()
	}
	return s, nil
}

func key(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// Load reads the whole state.
func (s *Bolt) Load() (*store.State, error) {
	st := &store.State{}
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		num := &store.Record{Kind: store.KindNumber}
		if v := meta.Get([]byte("next")); v != nil {
			num.Next = binary.BigEndian.Uint64(v)
		}
		err := tx.Bucket(bucketOps).ForEach(func(k, v []byte) error {
			id := binary.BigEndian.Uint64(k)
			if len(v) < 9 {
				return errors.New("storebench: short operation")
			}
			seq := binary.BigEndian.Uint64(v)
			ch, n := binary.Uvarint(v[9:])
			if n <= 0 || uint64(len(v)-9-n) < ch {
				return errors.New("storebench: bad operation")
			}
			rest := v[9+n:]
			r := &store.Record{Kind: store.KindAdd, ID: id, Type: codec.Type(v[8]), Channel: string(rest[:ch]), Data: append([]byte(nil), rest[ch:]...)}
			if err := st.Apply(r); err != nil {
				return err
			}
			if seq != 0 {
				num.IDs, num.Seqs = append(num.IDs, id), append(num.Seqs, seq)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := st.Apply(num); err != nil {
			return err
		}
		if err := st.Apply(&store.Record{Kind: store.KindSession, Session: string(meta.Get([]byte("sid"))), Token: string(meta.Get([]byte("tok")))}); err != nil {
			return err
		}
		if v := meta.Get([]byte("processed")); v != nil {
			return st.Apply(&store.Record{Kind: store.KindProcessed, Seq: binary.BigEndian.Uint64(v)})
		}
		return nil
	})
	return st, err
}

// Append applies r in one transaction.
func (s *Bolt) Append(r *store.Record) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		ops, seqs, meta := tx.Bucket(bucketOps), tx.Bucket(bucketSeqs), tx.Bucket(bucketMeta)
		drop := func(id uint64) error {
			v := ops.Get(key(id))
			if v == nil {
				return nil
			}
			if seq := binary.BigEndian.Uint64(v); seq != 0 {
				if err := seqs.Delete(key(seq)); err != nil {
					return err
				}
			}
			return ops.Delete(key(id))
		}
		switch r.Kind {
		case store.KindAdd:
			v := binary.BigEndian.AppendUint64(nil, 0)
			v = append(v, byte(r.Type))
			v = binary.AppendUvarint(v, uint64(len(r.Channel)))
			v = append(append(v, r.Channel...), r.Data...)
			return ops.Put(key(r.ID), v)
		case store.KindNumber:
			for i, id := range r.IDs {
				v := ops.Get(key(id))
				if v == nil {
					continue
				}
				v = append([]byte(nil), v...)
				if old := binary.BigEndian.Uint64(v); old != 0 {
					_ = seqs.Delete(key(old))
				}
				binary.BigEndian.PutUint64(v, r.Seqs[i])
				if err := ops.Put(key(id), v); err != nil {
					return err
				}
				if r.Seqs[i] != 0 {
					if err := seqs.Put(key(r.Seqs[i]), key(id)); err != nil {
						return err
					}
				}
			}
			return meta.Put([]byte("next"), key(r.Next))
		case store.KindAcked:
			var ids []uint64
			c := seqs.Cursor()
			for k, v := c.First(); k != nil && binary.BigEndian.Uint64(k) <= r.Seq; k, v = c.Next() {
				ids = append(ids, binary.BigEndian.Uint64(v))
			}
			for _, id := range ids {
				if err := drop(id); err != nil {
					return err
				}
			}
		case store.KindDone:
			for _, id := range r.IDs {
				if err := drop(id); err != nil {
					return err
				}
			}
		case store.KindSession:
			if err := meta.Put([]byte("sid"), []byte(r.Session)); err != nil {
				return err
			}
			if err := meta.Put([]byte("tok"), []byte(r.Token)); err != nil {
				return err
			}
			if r.Reset {
				return errors.New("storebench: reset is not measured")
			}
		case store.KindProcessed:
			return meta.Put([]byte("processed"), key(r.Seq))
		}
		return nil
	})
}

// Commit reports a failed background sync: every transaction of
// SyncEvery was synced as it committed.
func (s *Bolt) Commit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.err
	s.err = nil
	return err
}

// Close closes the file.
func (s *Bolt) Close() error {
	if s.stop != nil {
		close(s.stop)
		s.wg.Wait()
	}
	return s.db.Close()
}

// addMany queues n publishes in one transaction: the recovery
// measurement's set-up.
func (s *Bolt) addMany(n int) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		ops := tx.Bucket(bucketOps)
		for i := range uint64(n) {
			v := binary.BigEndian.AppendUint64(nil, 0)
			v = append(v, byte(codec.TypePublish))
			v = binary.AppendUvarint(v, uint64(len("telemetry")))
			v = append(append(v, "telemetry"...), Payload...)
			if err := ops.Put(key(i+1), v); err != nil {
				return err
			}
		}
		return nil
	})
}
