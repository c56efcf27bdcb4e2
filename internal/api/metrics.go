package api

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roster-dev/roster/internal/store"
)

// Metrics are a server's Prometheus metrics, served at GET /metrics. Each
// has a registry of its own rather than the global one, so that several
// servers in one process (as in tests) count apart.
//
// /metrics needs no token, as scrapers expect, so nothing a client sent
// may reach a label: requests are labelled by the route's pattern
// ("GET /api/v1/users/{user}", and the pages' "GET /invite/{token}"),
// never the path, and every path that no route serves is one label,
// unmatched. A scrape holds no email, token or path.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	unmatched *routeMetrics

	// The series of the routes of mounted handlers (the pages), made as
	// each is first served: the API's are made with the server.
	pagesMu sync.RWMutex
	pages   map[string]*routeMetrics

	// Refusals of the failure limiter, one per budget (see guard, guess).
	refusedToken, refusedAccount, refusedPassword prometheus.Counter

	// Store transactions, registered by the first Store: a server whose
	// store is not measured shows none rather than zeros.
	txRead, txWrite       prometheus.Observer
	retryRead, retryWrite prometheus.Counter
	storeOnce             sync.Once
	storeCollectors       []prometheus.Collector
}

// unmatched labels the requests no route serves: unknown paths, methods
// not allowed, and the mux's redirects of unclean paths.
const unmatched = "unmatched"

// MetricsOption sets something of NewMetrics's metrics.
type MetricsOption func(*metricsConfig)

type metricsConfig struct{ version string }

// WithVersion is roster's version, as roster version prints it, for
// roster_build_info; without it the version is "dev".
func WithVersion(v string) MetricsOption {
	return func(c *metricsConfig) {
		if v != "" {
			c.version = v
		}
	}
}

// NewMetrics returns a server's metrics, with the Go runtime's and the
// process's, and roster_build_info.
func NewMetrics(opts ...MetricsOption) *Metrics {
	cfg := metricsConfig{version: "dev"}
	for _, o := range opts {
		o(&cfg)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg, pages: map[string]*routeMetrics{}}
	// The usual build_info: 1, with what is running as labels, so that a
	// query can join it to any other series of the instance.
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "roster_build_info",
		Help:        "Always 1; its labels say which roster, built by which Go, is running.",
		ConstLabels: prometheus.Labels{"version": cfg.version, "goversion": runtime.Version()},
	}, func() float64 { return 1 }))
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_http_requests_total",
		Help: "HTTP requests answered, by route pattern and status code.",
	}, []string{"route", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "roster_http_request_duration_seconds",
		Help: "Time to answer an HTTP request, by route pattern.",
		// A read answers in well under a millisecond; a password check
		// takes tens of them.
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route"})
	refusals := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_rate_limit_refusals_total",
		Help: "Requests refused with 429 by the failure limiter, by budget: token (bearer and link tokens), account (password checks per client and account), password (password checks per client).",
	}, []string{"kind"})
	tx := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "roster_store_transaction_duration_seconds",
		Help:    "Time of a store transaction, retries and waiting for the write lock included, by kind (read, write).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"kind"})
	retries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_store_transaction_retries_total",
		Help: "Store transactions run again by the store (as PostgreSQL's on a serialization failure), by kind (read, write).",
	}, []string{"kind"})
	f(m.requests)
	f(m.latency)
	f(refusals)
	m.storeCollectors = []prometheus.Collector{tx, retries}
	// Resolved once: the fast path looks nothing up by label. Present
	// from the start at 0, so that a rate over them is defined.
	m.refusedToken = refusals.WithLabelValues("token")
	m.refusedAccount = refusals.WithLabelValues("account")
	m.refusedPassword = refusals.WithLabelValues("password")
	m.txRead, m.txWrite = tx.WithLabelValues("read"), tx.WithLabelValues("write")
	m.retryRead, m.retryWrite = retries.WithLabelValues("read"), retries.WithLabelValues("write")
	m.unmatched = m.route(unmatched)
	return m
}

// handler serves the scrape: in the OpenMetrics text format when the
// scraper's Accept asks for application/openmetrics-text (as Prometheus
// does), else in the Prometheus text format.
func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// page returns the series of a mounted handler's route pattern, made the
// first time it is served. The patterns are those of the handler's own
// mux, a fixed set: never a path.
func (m *Metrics) page(pattern string) *routeMetrics {
	if pattern == unmatched {
		return m.unmatched
	}
	m.pagesMu.RLock()
	rm, ok := m.pages[pattern]
	m.pagesMu.RUnlock()
	if ok {
		return rm
	}
	m.pagesMu.Lock()
	defer m.pagesMu.Unlock()
	if rm, ok = m.pages[pattern]; !ok {
		rm = m.route(pattern)
		m.pages[pattern] = rm
	}
	return rm
}

// routeMetrics are one route's series, resolved once so that a request
// costs no label lookup and no allocation.
type routeMetrics struct {
	pattern  string
	latency  prometheus.Observer
	requests *prometheus.CounterVec // curried with the route

	mu    sync.RWMutex
	codes map[int]prometheus.Counter
}

// route returns the series of the route with pattern.
func (m *Metrics) route(pattern string) *routeMetrics {
	return &routeMetrics{pattern: pattern, latency: m.latency.WithLabelValues(pattern),
		requests: m.requests.MustCurryWith(prometheus.Labels{"route": pattern}), codes: map[int]prometheus.Counter{}}
}

// observe counts one request answered with status after d.
func (rm *routeMetrics) observe(status int, d time.Duration) {
	rm.latency.Observe(d.Seconds())
	rm.mu.RLock()
	c, ok := rm.codes[status]
	rm.mu.RUnlock()
	if !ok { // once per route and status
		c = rm.requests.WithLabelValues(strconv.Itoa(status))
		rm.mu.Lock()
		rm.codes[status] = c
		rm.mu.Unlock()
	}
	c.Inc()
}

// Store returns st measured into m: the time of each transaction, and
// how often the store ran one again. Give the result to core.New and m
// to New (Options.Metrics) for the store's metrics to be served.
//
// A retry is seen as the store calling fn once more within one Read or
// Write, which is the only way a store can retry a transaction, so the
// adapters need not report them.
func (m *Metrics) Store(st store.Store) store.Store {
	m.storeOnce.Do(func() { m.reg.MustRegister(m.storeCollectors...) })
	return &measuredStore{Store: st, m: m}
}

// measuredStore is a store.Store whose transactions are measured.
type measuredStore struct {
	store.Store
	m *Metrics
}

func (s *measuredStore) Read(ctx context.Context, fn func(store.Tx) error) error {
	return measure(ctx, s.Store.Read, fn, s.m.txRead, s.m.retryRead)
}

func (s *measuredStore) Lookup(ctx context.Context, fn func(store.Tx) error) error {
	return measure(ctx, s.Store.Lookup, fn, s.m.txRead, s.m.retryRead)
}

func (s *measuredStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	return measure(ctx, s.Store.Write, fn, s.m.txWrite, s.m.retryWrite)
}

// measure runs fn through run, timing it and counting reruns.
func measure(ctx context.Context, run func(context.Context, func(store.Tx) error) error, fn func(store.Tx) error,
	took prometheus.Observer, retries prometheus.Counter) error {
	start := time.Now()
	runs := 0
	err := run(ctx, func(tx store.Tx) error {
		runs++
		return fn(tx)
	})
	took.Observe(time.Since(start).Seconds())
	if runs > 1 {
		retries.Add(float64(runs - 1))
	}
	return err
}
