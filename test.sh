#!/usr/bin/env bash
# The whole test suite, as README.md gives it: the SDK's own module, the
# server program in cmd/realtime-server, the fault-injection suite in
# chaos/, the NATS JetStream engine in server/natsbroker, the cluster
# suite in cluster/ and the store comparison in storebench/ (modules of
# their own, so that SDK users never download a JWT library, toxiproxy,
# NATS or bbolt). Every suite always runs, so a failure in
# one never hides another; the exit status is non-zero if any failed.
#
# Every run is real: -race, and -count=1 so a warm test cache cannot pass a
# broken run. Extra arguments go to every `go test` run (for example
# `./test.sh -run TestName` or `./test.sh -v`).
set -u
cd "$(dirname "$0")"

failed=()
suite() {
	local name=$1 dir=$2
	shift 2
	local start=$SECONDS
	echo "== test.sh: $name: go test -race -count=1 $* ./..."
	if (cd "$dir" && go test -race -count=1 "$@" ./...); then
		echo "== test.sh: $name passed in $((SECONDS - start)) s"
	else
		echo "== test.sh: $name FAILED in $((SECONDS - start)) s"
		failed+=("$name")
	fi
}

suite "the SDK module" . "$@"
suite "the server program" cmd/realtime-server "$@"
suite "the chaos suite" chaos "$@"
suite "the NATS module" server/natsbroker "$@"
suite "the cluster suite" cluster "$@"
suite "the store comparison" storebench "$@"

if [ ${#failed[@]} -gt 0 ]; then
	echo "== test.sh: FAILED: ${failed[*]}"
	exit 1
fi
echo "== test.sh: every module passed"
