package sse

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }
