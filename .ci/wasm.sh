#!/usr/bin/env bash
# Runs the tests that can run under js/wasm in Node, with Go's own runner.
# Under Node, Go's net/http dials an in-process network (it leaves fetch
# alone there), so tests that serve with httptest work; a WebSocket is the
# runtime's own and reaches only the real network, so the packages whose
# tests need a WebSocket server (the root package, mock, server, the
# examples and commands) are left out, and of the root package only the
# js/wasm tests run (wasm_js_test.go). No -race: js/wasm has none.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian bookworm's nodejs is 18.20; go_js_wasm_exec needs 18 or later.
if ! command -v node >/dev/null; then
	sudo=()
	[ "$(id -u)" -ne 0 ] && sudo=(sudo)
	"${sudo[@]}" apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
	echo "wasm: node $(node --version) is too old: go_js_wasm_exec needs 18 or later" >&2
	exit 1
fi

exec_wasm="$(go env GOROOT)/lib/wasm/go_js_wasm_exec"
pkgs=(
	./codec/... ./fallback/... ./reconnect/...
	./transport ./transport/sse ./transport/longpoll ./transport/websocket
	./server/brokertest
	./internal/batch ./internal/connstate ./internal/engine ./internal/httpconn
	./internal/importrules ./internal/negotiate ./internal/protocol
	./internal/redact ./internal/redirect ./internal/session ./internal/watchdog
)
echo "== js/wasm tests under node $(node --version)"
export GOOS=js GOARCH=wasm REALTIME_TEST_TIMEOUT_SCALE=4
go test -count=1 -timeout 10m -exec="$exec_wasm" "${pkgs[@]}"
go test -count=1 -timeout 5m -exec="$exec_wasm" -run '^TestWasm' .
