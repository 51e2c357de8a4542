//go:build js

package leakcheck

import "go.uber.org/goleak"

// platformOptions under js/wasm ignores runtime.handleEvent: the goroutine
// on which the runtime runs a JavaScript callback (a timer, a fetch
// completion) parks there until every goroutine is idle, so goleak, which
// sleeps between its checks, always finds one.
func platformOptions() []goleak.Option {
	return []goleak.Option{goleak.IgnoreAnyFunction("runtime.handleEvent")}
}
