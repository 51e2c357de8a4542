// Package bench measures the SDK against the raw transports it is built on,
// in the same process and the same run, so that each SDK number has a
// baseline beside it that shares the machine, the Go version and the noise.
//
// The benchmarks live in the package's tests:
//
//	go test -run '^$' -bench . -benchtime 1s ./internal/bench
//
// cmd/realtime-bench runs them several times, pinned to one core, and
// prints the Markdown table of docs/PERFORMANCE.md. The rest of the package
// is what both share: payloads that carry their send time, latency
// percentiles, the raw servers, and the parsing and tabulation of results.
package bench
