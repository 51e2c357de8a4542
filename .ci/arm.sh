#!/usr/bin/env bash
# Runs the whole test suite on linux/arm64 and linux/arm (GOARM=7) under
# qemu-user. binfmt_misc is not mounted on CI machines, so the emulator is
# named with -exec, and REALTIME_TEST_EMULATOR tells a test that starts the
# test binary again (the crash test) to start it under the emulator. No
# -race: it needs cgo, which cross builds do not have.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v qemu-aarch64-static >/dev/null || ! command -v qemu-arm-static >/dev/null; then
	# Installing a package must not start a service that listens.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
	fi
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-user-static
fi

# Both architectures run even when the first fails, so that one report
# shows every failure; the exit status is non-zero if either failed.
failed=()
run() {
	local name=$1 emu=$2
	shift 2
	local start=$SECONDS status=ok
	echo "== tests on $name under $emu"
	env CGO_ENABLED=0 REALTIME_TEST_TIMEOUT_SCALE=8 REALTIME_TEST_EMULATOR="$emu" "$@" go test -count=1 -timeout 30m -exec "$emu" ./... || { status=FAILED; failed+=("$name"); }
	(cd cmd/realtime-server && env CGO_ENABLED=0 REALTIME_TEST_TIMEOUT_SCALE=8 REALTIME_TEST_EMULATOR="$emu" "$@" go test -count=1 -timeout 30m -exec "$emu" ./...) || { status=FAILED; failed+=("$name cmd/realtime-server"); }
	echo "== $name: $status in $((SECONDS - start)) s"
}

run linux/arm64 qemu-aarch64-static GOARCH=arm64
run linux/arm/v7 qemu-arm-static GOARCH=arm GOARM=7
if [ ${#failed[@]} -gt 0 ]; then
	echo "== failed under qemu: ${failed[*]}"
	exit 1
fi
