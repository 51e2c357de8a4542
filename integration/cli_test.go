//go:build linux

package integration

import (
	"bytes"
	"context"
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
	srv := newApp(t)
	sq := startSquid(t)
	ctx, cancel := context.WithTimeout(context.Background(), caseDeadline)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "realtime")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/realtime")
	// For the machine itself, even when these tests run under qemu for
	// another architecture: the CLI is executed directly, not emulated.
	build.Env = append(os.Environ(), "GOOS="+runtime.GOOS, "GOARCH="+hostArch(t), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

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

func hostArch(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOHOSTARCH").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}
