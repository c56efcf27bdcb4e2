package api_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/testkit"
	"github.com/roster-dev/roster/internal/web"
	"github.com/roster-dev/roster/internal/wire"
)

// scrape reads e's /metrics as a client would, and returns its text and
// each sample's value by series ("name{label="value",…}", labels sorted
// by name as the text format writes them).
func (e *env) scrape() (string, map[string]float64) {
	e.t.Helper()
	rec := e.from("127.0.0.1:9", "GET", "/metrics", "", nil)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		e.t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	text := rec.Body.String()
	checkWithPromtool(e.t, rec.Header().Get("Content-Type"), text)
	samples := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			e.t.Fatalf("GET /metrics: line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return text, samples
}

// want checks a sample's value.
func want(t *testing.T, samples map[string]float64, series string, v float64) {
	t.Helper()
	if got, ok := samples[series]; !ok || got != v {
		t.Errorf("%s = %v (present: %v), want %v", series, got, ok, v)
	}
}

func requests(route string, code int) string {
	return `roster_http_requests_total{code="` + strconv.Itoa(code) + `",route="` + route + `"}`
}

// TestMetricsRequests: requests are counted by route pattern and status,
// timed by route pattern, and paths no route serves are one label.
func TestMetricsRequests(t *testing.T) {
	e := newEnv(t, api.Options{Metrics: api.NewMetrics()}, nil)
	const peer = "127.0.0.1:1"
	for range 2 {
		if rec := e.from(peer, "GET", "/api/v1/users/"+esc(ownerEmail), e.owner, nil); rec.Code != http.StatusOK {
			t.Fatalf("GET own user: %d %s", rec.Code, rec.Body)
		}
	}
	e.from(peer, "GET", "/api/v1/users/nobody@example.com", e.owner, nil)            // 404
	e.from(peer, "GET", "/api/v1/whoami", "", nil)                                   // 401
	e.from(peer, "POST", "/api/v1/projects", e.owner, wire.CreateProject{Slug: "p"}) // 200, a write
	e.from(peer, "GET", "/no/such/thing", "", nil)                                   // 404, unmatched
	e.from(peer, "DELETE", "/api/v1/whoami", e.owner, nil)                           // 405, unmatched
	e.from(peer, "GET", "/healthz", "", nil)

	_, s := e.scrape()
	want(t, s, requests("GET /api/v1/users/{user}", 200), 2)
	want(t, s, requests("GET /api/v1/users/{user}", 404), 1)
	want(t, s, requests("GET /api/v1/whoami", 401), 1)
	want(t, s, requests("POST /api/v1/projects", 200), 1)
	want(t, s, requests("unmatched", 404), 1)
	want(t, s, requests("unmatched", 405), 1)
	want(t, s, requests("GET /healthz", 200), 1)
	want(t, s, `roster_http_request_duration_seconds_count{route="GET /api/v1/users/{user}"}`, 3)
	want(t, s, `roster_http_request_duration_seconds_count{route="unmatched"}`, 2)
	// The scrape is counted once it is answered: the first sees none.
	if _, ok := s[requests("GET /metrics", 200)]; ok {
		t.Errorf("a scrape counts itself before it is answered")
	}
	if _, s = e.scrape(); s[requests("GET /metrics", 200)] != 1 {
		t.Errorf("the first scrape is not counted by the second")
	}

	// The store's transactions, through Metrics.Store: each request above
	// read, and creating the project wrote.
	for _, kind := range []string{"read", "write"} {
		if n := s[`roster_store_transaction_duration_seconds_count{kind="`+kind+`"}`]; n < 1 {
			t.Errorf("%s transactions: %v, want some", kind, n)
		}
		want(t, s, `roster_store_transaction_retries_total{kind="`+kind+`"}`, 0)
	}
	// The runtime's and the process's.
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if _, ok := s[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
}

// TestMetricsRefusals: each 429 of the failure limiter is counted under
// its budget, and answered under its route.
func TestMetricsRefusals(t *testing.T) {
	e := newEnv(t, api.Options{Metrics: api.NewMetrics(), FailureRate: 1}, nil)
	for range 10 { // the burst: 401s
		e.from(attacker, "GET", "/api/v1/whoami", "roster_pat_wrong", nil)
	}
	limited(t, e.from(attacker, "GET", "/api/v1/whoami", "roster_pat_wrong", nil), "1")
	for range 10 {
		e.from(attacker, "POST", "/api/v1/login", "", wire.SignIn{Email: ownerEmail, Password: "wrong"})
	}
	limited(t, e.from(attacker, "POST", "/api/v1/login", "", wire.SignIn{Email: ownerEmail, Password: "wrong"}), "1")

	_, s := e.scrape()
	want(t, s, `roster_rate_limit_refusals_total{kind="token"}`, 1)
	want(t, s, `roster_rate_limit_refusals_total{kind="account"}`, 1)
	want(t, s, `roster_rate_limit_refusals_total{kind="password"}`, 0) // present from the start
	want(t, s, requests("GET /api/v1/whoami", 401), 10)
	want(t, s, requests("GET /api/v1/whoami", 429), 1)
	want(t, s, requests("POST /api/v1/login", 401), 10)
	want(t, s, requests("POST /api/v1/login", 429), 1)
}

// TestMetricsHoldNoSecrets: /metrics needs no token, so nothing a client
// sent reaches it: not an email or token in a path, not a path no route
// serves, not the path of the mux's redirect of an unclean one (which
// the mux gives as its "pattern").
func TestMetricsHoldNoSecrets(t *testing.T) {
	e := newEnv(t, api.Options{Metrics: api.NewMetrics()}, nil)
	const peer = "127.0.0.1:1"
	secrets := []string{e.owner, "roster_pat_", "example.com", "leak", "%40"}
	e.from(peer, "GET", "/api/v1/users/"+esc(ownerEmail), e.owner, nil)
	e.from(peer, "GET", "/api/v1/users/"+esc(e.owner), e.owner, nil)
	e.from(peer, "GET", "/api/v1/users/leak@example.com", e.owner, nil)
	e.from(peer, "GET", "/leak/"+e.owner, "", nil)
	e.from(peer, "GET", "/api/v1/can?user=leak@example.com&permission=users.view", e.owner, nil)
	e.from(peer, "POST", "/api/v1/login", "", wire.SignIn{Email: "leak@example.com", Password: "leak-password"})
	redirect := e.from(peer, "GET", "/api/v1//users/leak@example.com", e.owner, nil).Code
	if redirect/100 != 3 {
		t.Fatalf("unclean path: %d, want the mux's redirect", redirect)
	}
	text, s := e.scrape()
	for _, secret := range secrets {
		if strings.Contains(text, secret) {
			t.Errorf("/metrics holds %q", secret)
		}
	}
	want(t, s, requests("unmatched", redirect), 1)
}

// retryingStore stands in for a store that runs a transaction twice, as
// PostgreSQL's does after a serialization failure.
type retryingStore struct{ store.Store }

func (retryingStore) Read(_ context.Context, fn func(store.Tx) error) error  { return twice(fn) }
func (retryingStore) Write(_ context.Context, fn func(store.Tx) error) error { return twice(fn) }

func twice(fn func(store.Tx) error) error {
	if err := fn(nil); err != nil {
		return err
	}
	return fn(nil)
}

// TestMetricsStoreRetries: Metrics.Store counts a transaction's reruns
// without the store reporting them, and times each transaction once.
func TestMetricsStoreRetries(t *testing.T) {
	m := api.NewMetrics()
	st := m.Store(retryingStore{})
	runs := 0
	fn := func(store.Tx) error { runs++; return nil }
	for range 3 {
		if err := st.Write(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Read(ctx, fn); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("failed")
	if err := st.Write(ctx, func(store.Tx) error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("Write: %v, want the transaction's own error", err)
	}
	if runs != 8 {
		t.Fatalf("fn ran %d times, want 8", runs)
	}
	e := &env{t: t, h: api.New(nil, api.Options{Metrics: m})}
	_, s := e.scrape()
	want(t, s, `roster_store_transaction_retries_total{kind="write"}`, 3)
	want(t, s, `roster_store_transaction_retries_total{kind="read"}`, 1)
	want(t, s, `roster_store_transaction_duration_seconds_count{kind="write"}`, 4)
	want(t, s, `roster_store_transaction_duration_seconds_count{kind="read"}`, 1)
}

// TestMetricsStoreUnmeasured: a server whose store is not wrapped by
// Metrics.Store shows no store metrics, rather than zeros that would
// read as an idle store.
func TestMetricsStoreUnmeasured(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	e.from("127.0.0.1:1", "GET", "/readyz", "", nil)
	if text, _ := e.scrape(); strings.Contains(text, "roster_store_") {
		t.Errorf("store metrics without a measured store")
	}
}

// TestMetricsPerServer: two servers in one process count apart.
func TestMetricsPerServer(t *testing.T) {
	a := &env{t: t, h: api.New(nil, api.Options{})}
	b := &env{t: t, h: api.New(nil, api.Options{})}
	a.from("127.0.0.1:1", "GET", "/healthz", "", nil)
	_, sa := a.scrape()
	_, sb := b.scrape()
	want(t, sa, requests("GET /healthz", 200), 1)
	if _, ok := sb[requests("GET /healthz", 200)]; ok {
		t.Errorf("a request to one server is counted by another")
	}
}

// TestMetricsPages: the pages, mounted beside the API, are counted under
// the patterns of their own routes, not as unmatched, which stays for
// what no route serves; a link's token in the path reaches no label.
func TestMetricsPages(t *testing.T) {
	e := newEnv(t, api.Options{Metrics: api.NewMetrics()}, nil)
	srv := e.h.(*api.Server)
	srv.Mount(web.New(e.core, srv, nil), web.Patterns...)
	const peer = "127.0.0.1:1"
	link := "roster_inv_" + strings.Repeat("a", 52)
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/signin", 200},
		{"GET", "/static/roster.css", 200},
		{"GET", "/static/roster.css", 200},
		{"GET", "/invite/" + link, 404}, // an unknown link, on its page
		{"GET", "/account", 303},        // not signed in
		{"GET", "/", 303},
		{"GET", "/static/nothing.css", 404},
		{"GET", "/nothing", 404},
		{"PUT", "/signin", 405},
	} {
		if rec := e.from(peer, c.method, c.path, "", nil); rec.Code != c.code {
			t.Fatalf("%s %s: %d, want %d", c.method, c.path, rec.Code, c.code)
		}
	}
	// Refused before it reaches its page: under the prefix mounted.
	if rec := e.from(peer, "POST", "/signin", "", nil, "Sec-Fetch-Site", "cross-site"); rec.Code != http.StatusForbidden {
		t.Fatalf("a cross-origin POST /signin: %d", rec.Code)
	}
	text, s := e.scrape()
	want(t, s, requests("/signin", 403), 1)
	want(t, s, requests("GET /signin", 200), 1)
	want(t, s, requests("GET /static/roster.css", 200), 2)
	want(t, s, requests("GET /invite/{token}", 404), 1)
	want(t, s, requests("GET /account", 303), 1)
	want(t, s, requests("GET /{$}", 303), 1)
	want(t, s, `roster_http_request_duration_seconds_count{route="GET /static/roster.css"}`, 2)
	// A path under a page's prefix that no page serves is a probe like any.
	want(t, s, requests("unmatched", 404), 2)
	want(t, s, requests("unmatched", 405), 1)
	if strings.Contains(text, link) || strings.Contains(text, "nothing") {
		t.Errorf("/metrics holds a path")
	}
}

// TestMetricsMountedHandler: a mounted handler without a mux of its own
// is counted under the pattern it was mounted at.
func TestMetricsMountedHandler(t *testing.T) {
	e := &env{t: t, h: api.New(nil, api.Options{})}
	e.h.(*api.Server).Mount(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}), "GET /tea/")
	e.from("127.0.0.1:1", "GET", "/tea/earl-grey@example.com", "", nil)
	text, s := e.scrape()
	want(t, s, requests("GET /tea/", http.StatusTeapot), 1)
	if strings.Contains(text, "earl-grey") {
		t.Errorf("/metrics holds a path")
	}
}

// TestMetricsOpenMetrics: a scraper that asks for OpenMetrics, as
// Prometheus does, gets it, with its Content-Type and its # EOF; any
// other gets the Prometheus text format.
func TestMetricsOpenMetrics(t *testing.T) {
	e := &env{t: t, h: api.New(nil, api.Options{})}
	for _, c := range []struct {
		accept, contentType string
		eof                 bool
	}{
		// Prometheus's own Accept.
		{"application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
			"application/openmetrics-text; version=1.0.0; charset=utf-8", true},
		{"application/openmetrics-text", "application/openmetrics-text; version=", true},
		{"", "text/plain; version=0.0.4; charset=utf-8", false},
		{"text/plain", "text/plain; version=0.0.4; charset=utf-8", false},
		{"application/json", "text/plain; version=0.0.4; charset=utf-8", false},
	} {
		rec := e.from("127.0.0.1:9", "GET", "/metrics", "", nil, "Accept", c.accept)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), c.contentType) {
			t.Errorf("Accept %q: %d %q, want %q", c.accept, rec.Code, rec.Header().Get("Content-Type"), c.contentType)
		}
		if eof := strings.HasSuffix(body, "\n# EOF\n"); eof != c.eof {
			t.Errorf("Accept %q: ends with # EOF: %v, want %v", c.accept, eof, c.eof)
		}
		if c.eof && !strings.Contains(body, "\n# TYPE roster_rate_limit_refusals counter\n") {
			t.Errorf("Accept %q: no OpenMetrics counter family roster_rate_limit_refusals", c.accept)
		}
		checkWithPromtool(t, rec.Header().Get("Content-Type"), body)
	}
}

// TestMetricsBuildInfo: roster_build_info says which roster and which Go.
func TestMetricsBuildInfo(t *testing.T) {
	for _, c := range []struct {
		opts    []api.MetricsOption
		version string
	}{
		{nil, "dev"},
		{[]api.MetricsOption{api.WithVersion("v1.2.3")}, "v1.2.3"},
	} {
		e := &env{t: t, h: api.New(nil, api.Options{Metrics: api.NewMetrics(c.opts...)})}
		_, s := e.scrape()
		want(t, s, `roster_build_info{goversion="`+runtime.Version()+`",version="`+c.version+`"}`, 1)
	}
}

// checkWithPromtool runs Prometheus's own linter over a scrape, where
// promtool is installed (Debian's prometheus package has it; .ci/run
// installs it, so under CI=true it must be). Only the text format:
// promtool check metrics reads no other. TestMetricsPromtool skips,
// saying so, where it is not installed.
func checkWithPromtool(t testing.TB, contentType, body string) {
	t.Helper()
	if !strings.HasPrefix(contentType, "text/plain") {
		return
	}
	if out, err := promtoolCheck(t, body); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// promtoolCheck is what promtool check metrics says of body: its findings
// are on stdout or stderr, and its exit code is 0 even for some of them
// (lint problems of an otherwise good scrape). Without promtool it says
// nothing, except under CI=true, where the test fails.
func promtoolCheck(t testing.TB, body string) ([]byte, error) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil && os.Getenv("CI") != "true" {
		return nil, nil
	}
	cmd := exec.Command(testkit.Tool(t, "promtool", promtoolInstall), "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	return bytes.TrimSpace(out), err
}

const promtoolInstall = "apt-get install prometheus"
