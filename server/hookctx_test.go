package server

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// One context serves the frames of a message while half of HookTimeout
// remains on it; then a fresh one is made, and release ends it.
func TestHookCtxSharedWhileHalfRemains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hookCtx
		const d = 10 * time.Second
		first := h.get(context.Background(), d)
		if again := h.get(context.Background(), d); again != first {
			t.Fatal("a second frame at once got a new context")
		}
		time.Sleep(d/2 + time.Millisecond)
		second := h.get(context.Background(), d)
		if second == first {
			t.Fatal("a frame with less than half of HookTimeout left got the old context")
		}
		if first.Err() == nil {
			t.Fatal("the replaced context was not ended")
		}
		dl, _ := second.Deadline()
		if got := time.Until(dl); got != d {
			t.Fatalf("fresh context ends in %v, want %v", got, d)
		}
		h.release()
		if second.Err() == nil {
			t.Fatal("release did not end the context")
		}
	})
}
