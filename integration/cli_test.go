//go:build linux

package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The debugging CLI, built and run as a user would, through squid: it
// lands on SSE, says why WebSocket was refused, and gets every line it
// publishes acknowledged.
func TestCLIThroughSquid(t *testing.T) {
	t.Parallel()
	require.NoError(t, cliBuild.err, "building the CLI")
	bin := cliBuild.path
	srv := newApp(t)
	sq := startSquid(t)
	ctx, cancel := context.WithTimeout(context.Background(), caseDeadline)
	defer cancel()

	cli := exec.CommandContext(ctx, bin, "-url", srv.URL(), "-proxy", "http://"+sq.addr, "-pub", "chat", "-connect-timeout", "10s")
	cli.Stdin = strings.NewReader("one\ntwo\nthree\n")
	var stdout, stderr bytes.Buffer
	cli.Stdout, cli.Stderr = &stdout, &stderr
	require.NoError(t, cli.Run(), "stderr: %s", stderr.String())

	require.Contains(t, stderr.String(), "over sse")
	require.Regexp(t, `attempt websocket failed .*426`, stderr.String())
	require.Equal(t, 3, strings.Count(stdout.String(), "ack"), "stdout: %s", stdout.String())
	got, err := srv.WaitReceived(ctx, 3)
	require.NoError(t, err)
	var data []string
	for _, m := range got {
		data = append(data, string(m.Data))
	}
	require.Equal(t, []string{"one", "two", "three"}, data)
}

// cliBuild is the CLI binary, built once per package run by TestMain.
var cliBuild struct {
	dir  string
	path string
	err  error
}

// buildCLI builds cmd/realtime before any case runs. The build has no
// deadline: from a cold build cache on a busy 2-core machine it alone has
// taken minutes, which no case deadline should have to cover, and running
// it beside the timed cases would slow them. The binary is for the machine
// itself, even when these tests run under qemu for another architecture:
// the CLI is executed directly, not emulated.
func buildCLI() {
	dir, err := os.MkdirTemp("", "realtime-cli-")
	if err != nil {
		cliBuild.err = err
		return
	}
	cliBuild.dir = dir
	arch, err := exec.Command("go", "env", "GOHOSTARCH").Output()
	if err != nil {
		cliBuild.err = fmt.Errorf("go env GOHOSTARCH: %w", err)
		return
	}
	cliBuild.path = filepath.Join(dir, "realtime")
	build := exec.Command("go", "build", "-o", cliBuild.path, "../cmd/realtime")
	build.Env = append(os.Environ(), "GOOS="+runtime.GOOS, "GOARCH="+strings.TrimSpace(string(arch)), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		cliBuild.err = fmt.Errorf("go build: %w: %s", err, out)
	}
}
