package api_test

import (
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/testkit"
	"github.com/roster-dev/roster/internal/web"
)

// TestMetricsPromtool: promtool, Prometheus's own linter, finds nothing
// in a scrape of a server with its pages mounted, after requests of each
// kind. Every scrape of the other metrics tests goes through it too; this
// one says so when it is not installed, and proves that a fault it knows
// is reported, so that a silent promtool cannot pass them all.
func TestMetricsPromtool(t *testing.T) {
	testkit.Tool(t, "promtool", promtoolInstall)
	if out, err := promtoolCheck(t, "# TYPE roster_things counter\nroster_things 1\n"); err == nil && len(out) == 0 {
		t.Fatal("promtool check metrics passes a counter without _total: it checks nothing")
	}
	e := newEnv(t, api.Options{Metrics: api.NewMetrics(api.WithVersion("v1.2.3"))}, nil)
	srv := e.h.(*api.Server)
	srv.Mount(web.New(e.core, srv, nil), web.Patterns...)
	for _, path := range []string{"/api/v1/whoami", "/signin", "/static/roster.css", "/nothing", "/healthz"} {
		e.from("127.0.0.1:1", "GET", path, e.owner, nil)
	}
	e.scrape() // checked with promtool
}
