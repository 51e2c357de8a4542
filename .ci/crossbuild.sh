#!/usr/bin/env bash
# Builds every package for the platforms we do not test on, and the root
# package for the browser, so that a platform-specific break shows in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

for target in linux/mips linux/riscv64 windows/amd64 darwin/arm64; do
	echo "== go build ./... for $target"
	CGO_ENABLED=0 GOOS=${target%/*} GOARCH=${target#*/} go build ./...
done

echo "== go build . for js/wasm"
GOOS=js GOARCH=wasm go build .
