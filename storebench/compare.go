package storebench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/store"
	"github.com/realtimekit/realtime/store/filestore"
)

// Kind names a store under comparison.
type Kind string

// The stores compared.
const (
	Segment Kind = "segment log (filestore)"
	BBolt   Kind = "bbolt"
	// RawFile is the baseline: the same bytes appended to a file.
	RawFile Kind = "raw file append"
)

// Policies are the durability policies compared, in order.
var Policies = []filestore.Policy{filestore.SyncEvery, filestore.SyncInterval, filestore.SyncNever}

// closer is a store.Store that closes.
type closer interface {
	store.Store
	Close() error
}

// Open opens a store of kind k in dir with policy p.
func Open(k Kind, dir string, p filestore.Policy) (closer, error) {
	switch k {
	case BBolt:
		return OpenBolt(filepath.Join(dir, "bolt.db"), p, filestore.DefaultInterval)
	case RawFile:
		return OpenRaw(dir, p, filestore.DefaultInterval)
	}
	return filestore.Open(dir, &filestore.Options{Sync: p})
}

// Payload is the publish measured: a telemetry reading's size.
var Payload = bytes.Repeat([]byte("r"), 100)

// publishLoop is what a client records for n publishes acknowledged in
// batches of 16, as it does on a steady link: per publish an Add and a
// commit; per batch the numbers given, the acknowledgement, and a commit.
func publishLoop(s store.Store, first uint64, n int) error {
	batch := make([]uint64, 0, 16)
	for i := range uint64(n) {
		id := first + i
		if err := s.Append(&store.Record{Kind: store.KindAdd, ID: id, Type: codec.TypePublish, Channel: "telemetry", Data: Payload}); err != nil {
			return err
		}
		if err := s.Commit(); err != nil {
			return err
		}
		batch = append(batch, id)
		if len(batch) == cap(batch) {
			if err := s.Append(&store.Record{Kind: store.KindNumber, Next: id, IDs: batch, Seqs: batch}); err != nil {
				return err
			}
			if err := s.Append(&store.Record{Kind: store.KindAcked, Seq: id}); err != nil {
				return err
			}
			if err := s.Commit(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}

// PublishResult is one store and policy's publish measurement.
type PublishResult struct {
	PerSecond float64
	// Written is the bytes handed to the operating system per publish
	// (/proc/self/io wchar); Device the bytes the process had the
	// operating system write to the device (write_bytes), which counts
	// whole pages: the flash wear. Zero where /proc is missing.
	Written, Device float64
}

// MeasurePublish measures k under p, for about a second.
func MeasurePublish(k Kind, p filestore.Policy) (PublishResult, error) {
	var res PublishResult
	var ferr error
	r := testing.Benchmark(func(b *testing.B) {
		dir, err := os.MkdirTemp("", "storebench")
		if err != nil {
			ferr = err
			return
		}
		defer os.RemoveAll(dir)
		s, err := Open(k, dir, p)
		if err != nil {
			ferr = err
			return
		}
		if _, err := s.Load(); err != nil {
			ferr = err
		}
		w0, d0 := procIO()
		b.ResetTimer()
		if err := publishLoop(s, 1, b.N); err != nil {
			ferr = err
		}
		b.StopTimer()
		if err := s.Commit(); err != nil && ferr == nil {
			ferr = err
		}
		w1, d1 := procIO()
		res.Written = float64(w1-w0) / float64(b.N)
		res.Device = float64(d1-d0) / float64(b.N)
		s.Close()
	})
	if ferr != nil {
		return res, ferr
	}
	if r.N > 0 && r.T > 0 {
		res.PerSecond = float64(r.N) / r.T.Seconds()
	}
	return res, nil
}

// procIO returns the process's wchar and write_bytes.
func procIO() (wchar, device int64) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "wchar":
			wchar = n
		case "write_bytes":
			device = n
		}
	}
	return wchar, device
}

// MeasureRecovery fills a store of kind k with queued publishes, as a
// process that died during a long outage leaves it, and returns the
// median of three Open + Load + Close, the operations loaded, and the
// store's size on disk.
func MeasureRecovery(k Kind, queued int) (time.Duration, int, int64, error) {
	dir, err := os.MkdirTemp("", "storebench")
	if err != nil {
		return 0, 0, 0, err
	}
	defer os.RemoveAll(dir)
	s, err := Open(k, dir, filestore.SyncNever)
	if err != nil {
		return 0, 0, 0, err
	}
	if _, err := s.Load(); err != nil {
		return 0, 0, 0, err
	}
	if k == BBolt {
		// One transaction per publish would take minutes; the state is
		// the same.
		b := s.(*Bolt)
		err = b.addMany(queued)
	} else {
		for i := range uint64(queued) {
			if err = s.Append(&store.Record{Kind: store.KindAdd, ID: i + 1, Type: codec.TypePublish, Channel: "telemetry", Data: Payload}); err != nil {
				break
			}
		}
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, 0, err
	}
	var times []time.Duration
	var n int
	for range 3 {
		start := time.Now()
		s, err := Open(k, dir, filestore.SyncEvery)
		if err != nil {
			return 0, 0, 0, err
		}
		st, err := s.Load()
		if err != nil {
			return 0, 0, 0, err
		}
		n = len(st.Ops())
		s.Close()
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return times[1], n, dirBytes(dir), nil
}

func dirBytes(dir string) (n int64) {
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// ARMSizes builds the three probes for linux/arm (GOARM=7, stripped) and
// returns their sizes: the client alone, with filestore, with bbolt.
func ARMSizes() (none, segment, bolt int64, err error) {
	dir, err := os.MkdirTemp("", "storebench-size")
	if err != nil {
		return 0, 0, 0, err
	}
	defer os.RemoveAll(dir)
	var sizes [3]int64
	for i, p := range []string{"none", "segment", "bolt"} {
		out := filepath.Join(dir, p)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./internal/probe/"+p)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOARM=7")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return 0, 0, 0, fmt.Errorf("build %s: %v: %s", p, err, msg)
		}
		fi, err := os.Stat(out)
		if err != nil {
			return 0, 0, 0, err
		}
		sizes[i] = fi.Size()
	}
	return sizes[0], sizes[1], sizes[2], nil
}

// Compare runs every measurement and prints the tables. queued is the
// recovery measurement's size (100,000 in the README's numbers);
// sizes adds the ARM builds.
func Compare(w io.Writer, queued int, sizes bool) error {
	fmt.Fprintln(w, "Publishing 100-byte readings, acknowledged in batches of 16")
	fmt.Fprintln(w, "| store | policy | publishes/s | vs raw | bytes to the OS per publish | bytes to the device per publish |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, p := range Policies {
		var raw float64
		for _, k := range []Kind{RawFile, Segment, BBolt} {
			r, err := MeasurePublish(k, p)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", k, p, err)
			}
			if k == RawFile {
				raw = r.PerSecond
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %.2fx | %.0f | %.0f |\n", k, p, r.PerSecond, r.PerSecond/raw, r.Written, r.Device)
		}
	}
	fmt.Fprintln(w, "(Bytes to the device count only what was written back while measuring: without a sync per publish, most of it is written back later.)")
	fmt.Fprintln(w, "\nA client publishing 100-byte readings through the mock server, each acknowledged")
	fmt.Fprintln(w, "| outbox | publishes/s | vs memory |")
	fmt.Fprintln(w, "|---|---|---|")
	mem, err := MeasureClient(0, true)
	if err != nil {
		return fmt.Errorf("client, memory: %w", err)
	}
	fmt.Fprintf(w, "| memory (no store) | %.0f | 1.00x |\n", mem)
	for _, p := range Policies {
		n, err := MeasureClient(p, false)
		if err != nil {
			return fmt.Errorf("client, %s: %w", p, err)
		}
		fmt.Fprintf(w, "| filestore, sync %s | %.0f | %.2fx |\n", p, n, n/mem)
	}
	fmt.Fprintf(w, "\nRecovery with %d publishes queued (Open + Load)\n", queued)
	fmt.Fprintln(w, "| store | time | operations | size on disk |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, k := range []Kind{Segment, BBolt} {
		d, n, size, err := MeasureRecovery(k, queued)
		if err != nil {
			return fmt.Errorf("recovery, %s: %w", k, err)
		}
		fmt.Fprintf(w, "| %s | %v | %d | %.1f MiB |\n", k, d.Round(time.Millisecond), n, float64(size)/(1<<20))
	}
	if !sizes {
		return nil
	}
	none, seg, bolt, err := ARMSizes()
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\nA client on linux/arm (GOARM=7, stripped)")
	fmt.Fprintln(w, "| binary | size | added |")
	fmt.Fprintln(w, "|---|---|---|")
	fmt.Fprintf(w, "| client alone | %.2f MiB | |\n", float64(none)/(1<<20))
	fmt.Fprintf(w, "| with filestore | %.2f MiB | %+.0f KiB |\n", float64(seg)/(1<<20), float64(seg-none)/1024)
	fmt.Fprintf(w, "| with bbolt | %.2f MiB | %+.0f KiB |\n", float64(bolt)/(1<<20), float64(bolt-none)/1024)
	return nil
}
