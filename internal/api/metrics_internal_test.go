package api

import (
	"testing"
	"time"
)

// TestMetricsFastPathAllocs: counting a request and a refusal allocates
// nothing once the route has seen its status, so metrics cost the server
// no garbage (issue 11, server hygiene).
func TestMetricsFastPathAllocs(t *testing.T) {
	m := NewMetrics()
	rm := m.route("GET /api/v1/users/{user}")
	rm.observe(200, time.Millisecond) // the first of a status makes its series
	if n := testing.AllocsPerRun(100, func() {
		rm.observe(200, time.Millisecond)
		m.refusedToken.Inc()
	}); n != 0 {
		t.Errorf("%v allocations per request counted, want 0", n)
	}
}
