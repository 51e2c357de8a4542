package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// natsVersion is the nats-server the cluster runs.
const natsVersion = "v2.15.2"

// The binaries built once by TestMain, and why one is missing.
var (
	natsBin, serverBin string
	missing            []string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "realtime-cluster")
	if err != nil {
		panic(err)
	}
	// No deadline: a cold build on a busy machine takes what it takes.
	natsBin = filepath.Join(dir, "nats-server")
	if bin := os.Getenv("NATS_SERVER_BIN"); bin != "" {
		natsBin = bin // a build of the same version, to save a cold build
	} else {
		install := exec.Command("go", "install", "github.com/nats-io/nats-server/v2@"+natsVersion)
		install.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
		if out, err := install.CombinedOutput(); err != nil {
			missing = append(missing, fmt.Sprintf("nats-server %s: %v\n%s", natsVersion, err, out))
		}
	}
	serverBin = filepath.Join(dir, "realtime-server")
	if bin := os.Getenv("REALTIME_SERVER_BIN"); bin != "" {
		serverBin = bin // a build with NATS support made elsewhere
	} else {
		build := exec.Command("go", "build", "-o", serverBin, ".")
		build.Dir = filepath.Join("..", "cmd", "realtime-server")
		if out, err := build.CombinedOutput(); err != nil {
			missing = append(missing, fmt.Sprintf("realtime-server: %v\n%s", err, out))
		}
	}
	if _, err := exec.LookPath("haproxy"); err != nil {
		missing = append(missing, "haproxy: not installed (.ci/install-peers.sh)")
	}
	code := 0
	func() {
		defer os.RemoveAll(dir)
		code = goleakRun(m)
	}()
	os.Exit(code)
}

func goleakRun(m *testing.M) int {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

// needPeers skips the test when something it runs is missing, or fails it
// when CI=true: in CI a missing peer is a broken machine.
func needPeers(t *testing.T) {
	t.Helper()
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing peers:\n%v", missing)
	}
	t.Skipf("missing peers (CI=true fails instead):\n%v", missing)
}

// scaled stretches d by REALTIME_TEST_TIMEOUT_SCALE, for slow machines.
func scaled(d time.Duration) time.Duration {
	if f, err := strconv.ParseFloat(os.Getenv("REALTIME_TEST_TIMEOUT_SCALE"), 64); err == nil && f > 1 {
		return time.Duration(float64(d) * f)
	}
	return d
}
