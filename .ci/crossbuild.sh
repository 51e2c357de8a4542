#!/usr/bin/env bash
# Builds every package for the platforms we do not test on, and the root
# package for the browser, so that a platform-specific break shows in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

for target in linux/mips linux/riscv64 windows/amd64 darwin/arm64; do
	echo "== go build ./... for $target"
	CGO_ENABLED=0 GOOS=${target%/*} GOARCH=${target#*/} go build ./...
	(cd cmd/realtime-server && CGO_ENABLED=0 GOOS=${target%/*} GOARCH=${target#*/} go build ./...)
done

echo "== go build . for js/wasm"
GOOS=js GOARCH=wasm go build .

# The IoT agent as a device ships it must stay within 6.5 MiB stripped on
# linux/arm (README, "Cross-compiling for ARM"): a dependency that pulls in
# a large package (regexp, encoding/json) shows here first.
limit=$((6656 * 1024))
bin=$(mktemp)
CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 go build -trimpath -tags nomock -ldflags='-s -w' -o "$bin" ./examples/iot
size=$(stat -c %s "$bin")
rm -f "$bin"
echo "== examples/iot -tags nomock on linux/arm: $size bytes (limit $limit)"
if [ "$size" -gt "$limit" ]; then
	echo "the IoT agent grew past 6.5 MiB on linux/arm" >&2
	exit 1
fi
