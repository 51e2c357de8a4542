// Command realtime-bench runs the benchmarks of package bench several times
// and prints, as Markdown, each SDK number beside its raw-transport
// baseline with the ratio, the footprint of an idle client per transport,
// and the size of a minimal client binary for linux/arm and arm64.
//
//	go run ./cmd/realtime-bench            # the docs/PERFORMANCE.md table
//	go run ./cmd/realtime-bench -quick     # everything once, briefly (CI)
//
// The benchmark binary is pinned to one core with taskset when it is
// installed, so client and server share a core as they would on a small
// device and the numbers vary less between runs.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/realtimekit/realtime/internal/bench"
)

type config struct {
	count     int
	benchtime string
	clients   int
	pin       bool
	verbose   bool
	quick     bool
	fanout    string
	cluster   string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.count, "count", 5, "rounds of each benchmark; the table shows their median and min–max")
	flag.StringVar(&cfg.benchtime, "benchtime", "1s", "duration (or Nx count) of each benchmark round")
	flag.IntVar(&cfg.clients, "clients", 1000, "idle clients connected to measure the footprint")
	flag.StringVar(&cfg.fanout, "fanout", "200x", "messages (Nx) of each fan-out round")
	flag.StringVar(&cfg.cluster, "cluster", "200x", "rounds (Nx) of each several-nodes benchmark (the resume benchmark runs 10x); empty skips them")
	flag.BoolVar(&cfg.pin, "pin", true, "pin the benchmarks to CPU 0 with taskset, when installed")
	flag.BoolVar(&cfg.verbose, "v", false, "copy the benchmarks' raw output to stderr")
	flag.BoolVar(&cfg.quick, "quick", false, "run everything once, briefly, to prove it works; the numbers mean nothing")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: realtime-bench [flags]\n\n"+
			"Runs ./internal/bench (SDK vs raw transports, idle footprint) and builds a minimal\n"+
			"client for linux/arm and arm64; prints a Markdown report on stdout.\n"+
			"Run it from inside the module.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if cfg.quick {
		cfg.count, cfg.benchtime, cfg.clients, cfg.fanout, cfg.cluster = 1, "20x", 20, "20x", "5x"
	}
	log.SetFlags(0)
	log.SetPrefix("realtime-bench: ")
	if err := run(os.Stdout, cfg); err != nil {
		log.Fatal(err)
	}
}

func run(w io.Writer, cfg config) error {
	root, err := goOutput("list", "-m", "-f", "{{.Dir}}")
	if err != nil {
		return fmt.Errorf("finding the module (run from inside it): %w", err)
	}
	tmp, err := os.MkdirTemp("", "realtime-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	testBin := filepath.Join(tmp, "bench.test")
	log.Printf("building the benchmarks")
	if err := goRun(root, nil, "test", "-c", "-o", testBin, "./internal/bench"); err != nil {
		return err
	}
	pin := ""
	if cfg.pin {
		if p, err := exec.LookPath("taskset"); err == nil {
			pin = p
		}
	}

	log.Printf("running the benchmarks: %d round(s) of %s each", cfg.count, cfg.benchtime)
	res, err := runBench(root, testBin, pin, cfg, "^Benchmark(PublishAcked|PublishLatency|Deliver|DeliverLatency|Raw)$", cfg.benchtime)
	if err != nil {
		return err
	}
	log.Printf("measuring the footprint of %d idle clients per transport", cfg.clients)
	foot, err := runBench(root, testBin, pin, cfg, "^BenchmarkFootprint$", "1x", "-bench.clients", strconv.Itoa(cfg.clients))
	if err != nil {
		return err
	}
	log.Printf("fanning out to 1,000 subscribers on one node")
	fan, err := runBench(root, testBin, pin, cfg, "^BenchmarkFanOut$", cfg.fanout)
	if err != nil {
		return err
	}
	var cluster bench.Results
	if cfg.cluster != "" {
		if cluster, err = runCluster(root, tmp, pin, cfg); err != nil {
			return err
		}
	}
	log.Printf("building the minimal client for arm")
	sizes, err := binarySizes(root, tmp)
	if err != nil {
		return err
	}

	fmt.Fprintf(w, "Machine: %s, %d cores, %s %s/%s.\n", cpuModel(), runtime.NumCPU(), goVersion(), runtime.GOOS, runtime.GOARCH)
	if pin != "" {
		fmt.Fprintln(w, "Pinned to one core (taskset -c 0): client and server share it, GOMAXPROCS=1.")
	} else {
		fmt.Fprintf(w, "Not pinned (taskset absent or -pin=false): GOMAXPROCS=%d.\n", runtime.NumCPU())
	}
	fmt.Fprintf(w, "Rounds: %d × %s; cells are median (min–max). Throughput in msgs/s (higher is better), latency in µs (lower is better).\n\n", cfg.count, cfg.benchtime)
	missing := res.Table(w, bench.Rows())
	fmt.Fprintf(w, "\nIdle footprint, %d clients each subscribed to one channel, servers in a separate process; raw: a hand-written idle client of the same transport (see below):\n\n", cfg.clients)
	missing = append(missing, foot.FootprintTable(w, []string{"websocket", "sse", "longpoll"})...)
	fmt.Fprintf(w, "\nServer fan-out: the backend publishes 64 B messages to 1,000 subscribers on one node (%s per round; paced: 50 msgs/s), beside a raw coder/websocket loop writing to 1,000 plain clients; memory counts client and server ends together:\n\n", cfg.fanout)
	missing = append(missing, fan.FanOutTable(w)...)
	if cfg.cluster != "" {
		fmt.Fprintf(w, "\nSeveral nodes (server/natsbroker): server.Server nodes on a 1-node embedded NATS JetStream, each on its own connection, WebSocket clients in the same process; raw: a NATS core publish→subscribe in the same run (%s per round, the resume 10x):\n\n", cfg.cluster)
		missing = append(missing, cluster.ClusterTable(w)...)
	}
	fmt.Fprintf(w, "\nStripped binary size (CGO_ENABLED=0, -trimpath -ldflags='-s -w'):\n\n| Program | linux/arm GOARM=7 | linux/arm64 |\n|---|---|---|\n")
	for _, s := range sizes {
		name := s.pkg
		if s.tags != "" {
			name += " (-tags " + s.tags + ")"
		}
		fmt.Fprintf(w, "| %s | %.2f MiB | %.2f MiB |\n", name, mib(s.arm), mib(s.arm64))
	}
	if len(missing) > 0 {
		return fmt.Errorf("no result for: %s", strings.Join(missing, ", "))
	}
	return nil
}

// runCluster builds the benchmarks of the server/natsbroker module (a
// module of its own, so that the SDK's users never download NATS) and runs
// them.
func runCluster(root, tmp, pin string, cfg config) (bench.Results, error) {
	dir := filepath.Join(root, "server", "natsbroker")
	bin := filepath.Join(tmp, "natsbroker.test")
	log.Printf("building the several-nodes benchmarks")
	if err := goRun(dir, nil, "test", "-c", "-o", bin, "."); err != nil {
		return nil, err
	}
	log.Printf("running the several-nodes benchmarks")
	res, err := runBenchIn(dir, bin, pin, cfg, "^Benchmark(LatencyCoreNATS|LatencyJetStreamOrdered|LatencyBroker|ClusterCrossNode|ClusterFanOut)$", cfg.cluster)
	if err != nil {
		return nil, err
	}
	resume, err := runBenchIn(dir, bin, pin, cfg, "^BenchmarkClusterResume$", "10x")
	if err != nil {
		return nil, err
	}
	for k, v := range resume {
		res[k] = v
	}
	return res, nil
}

func runBench(root, testBin, pin string, cfg config, pattern, benchtime string, extra ...string) (bench.Results, error) {
	return runBenchIn(filepath.Join(root, "internal", "bench"), testBin, pin, cfg, pattern, benchtime, extra...)
}

func runBenchIn(dir, testBin, pin string, cfg config, pattern, benchtime string, extra ...string) (bench.Results, error) {
	args := append([]string{"-test.run", "^$", "-test.bench", pattern,
		"-test.count", strconv.Itoa(cfg.count), "-test.benchtime", benchtime,
		"-test.timeout", "60m"}, extra...)
	name := testBin
	if pin != "" {
		args = append([]string{"-c", "0", testBin}, args...)
		name = pin
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if cfg.verbose {
		cmd.Stdout = io.MultiWriter(&out, os.Stderr)
	}
	if err := cmd.Run(); err != nil {
		os.Stderr.Write(out.Bytes())
		return nil, fmt.Errorf("benchmarks failed: %w", err)
	}
	return bench.Parse(&out)
}

type binSize struct {
	pkg, tags  string
	arm, arm64 int64
}

// binarySizes builds, for both ARM targets, the IoT example as a device
// would ship it (-tags nomock leaves its embedded server out), the minimal
// client, and the demo, which embeds the mock server and so is an upper
// bound.
func binarySizes(root, tmp string) ([]binSize, error) {
	progs := []binSize{{pkg: "./internal/bench/minclient"}, {pkg: "./examples/demo"}}
	if _, err := os.Stat(filepath.Join(root, "examples", "iot")); err == nil {
		progs = append([]binSize{{pkg: "./examples/iot", tags: "nomock"}}, progs...)
	}
	var out []binSize
	for _, s := range progs {
		pkg := s.pkg
		for _, t := range []struct {
			env  []string
			size *int64
		}{
			{[]string{"GOARCH=arm", "GOARM=7"}, &s.arm},
			{[]string{"GOARCH=arm64"}, &s.arm64},
		} {
			bin := filepath.Join(tmp, "size.bin")
			env := append([]string{"CGO_ENABLED=0", "GOOS=linux"}, t.env...)
			if err := goRun(root, env, "build", "-tags="+s.tags, "-trimpath", "-ldflags=-s -w", "-o", bin, pkg); err != nil {
				return nil, err
			}
			fi, err := os.Stat(bin)
			if err != nil {
				return nil, err
			}
			*t.size = fi.Size()
		}
		out = append(out, s)
	}
	return out, nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func goRun(dir string, env []string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func goOutput(args ...string) (string, error) {
	out, err := exec.Command("go", args...).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return "", fmt.Errorf("%w: %s", err, ee.Stderr)
	}
	return strings.TrimSpace(string(out)), err
}

func goVersion() string {
	if v, err := goOutput("env", "GOVERSION"); err == nil && v != "" {
		return v
	}
	return runtime.Version()
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
