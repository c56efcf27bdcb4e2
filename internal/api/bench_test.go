package api_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/sqlite"
	"github.com/roster-dev/roster/internal/store/sqlite/sqlitetest"
)

// The server benchmarks measure DESIGN.md's remote-mode target (an
// authenticated GET of one user: ≥ 10,000 requests/s, p99 ≤ 10 ms) with a
// closed-loop load generator in the same process: the client and the
// server share the machine's cores, so the figures understate what the
// server alone would do. Nothing asserts on time; the figures are printed.

// benchUsers is the size of the store the server benchmarks read.
const benchUsers = 10_000

// benchWorkers are the numbers of concurrent clients each benchmark is run
// with: one for the unloaded latency, more to saturate the server.
var benchWorkers = []int{1, 16, 32}

// benchServer serves api.New over a store of the owner plus benchUsers
// users named u0000000@example.com …, on a loopback TCP listener, and
// returns its URL and the owner's API token.
func benchServer(b *testing.B) (url, tok string) {
	b.Helper()
	if testing.Short() {
		b.Skip("server benchmarks seed a store of 10,000 users")
	}
	path := filepath.Join(b.TempDir(), "roster.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	c := core.New(db)
	if _, err := c.As(core.Actor{Name: "local:bench"}).Init(ctx, roster.InitParams{OwnerEmail: ownerEmail, Password: ownerPassword}); err != nil {
		b.Fatal(err)
	}
	t, err := c.As(core.Actor{User: ownerEmail}).CreateToken(ctx, roster.CreateToken{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	sqlitetest.SeedUsers(b, path, benchUsers)
	srv := httptest.NewServer(api.New(c, api.Options{}))
	b.Cleanup(srv.Close)
	return srv.URL, t.Token
}

// benchLoad issues b.N requests from workers concurrent clients, each
// sending its next request as soon as the last is answered (a closed
// loop), over keep-alive connections, and reports the throughput and the
// median, 95th- and 99th-percentile latency, and the CPU time of this
// process (client and server; not PostgreSQL's) per request. path(r) is
// the path of a request, r a generator private to the calling worker.
func benchLoad(b *testing.B, base, tok string, workers int, path func(r *rand.Rand) string) {
	tr := &http.Transport{MaxIdleConns: 2 * workers, MaxIdleConnsPerHost: 2 * workers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var failed atomic.Bool
	do := func(r *rand.Rand) bool {
		req, err := http.NewRequest(http.MethodGet, base+path(r), nil)
		if err != nil {
			b.Error(err)
			return false
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return false
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Errorf("GET %s: status %d, %v", req.URL.Path, resp.StatusCode, err)
			return false
		}
		return true
	}
	// run sends n requests in all (taken from a shared counter) and
	// returns every latency.
	run := func(n int64) []time.Duration {
		var next atomic.Int64
		lat := make([][]time.Duration, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 42))
				mine := make([]time.Duration, 0, n/int64(workers)+1)
				for next.Add(1) <= n && !failed.Load() {
					start := time.Now()
					if !do(r) {
						failed.Store(true)
						return
					}
					mine = append(mine, time.Since(start))
				}
				lat[w] = mine
			}()
		}
		wg.Wait()
		return slices.Concat(lat...)
	}
	// Warm up: open the connections, fill the store's page cache.
	run(int64(20 * workers))
	if failed.Load() {
		b.FailNow()
	}
	b.ResetTimer()
	start, cpu := time.Now(), processCPU()
	lat := run(int64(b.N))
	elapsed, cpu := time.Since(start), processCPU()-cpu
	b.StopTimer()
	if failed.Load() {
		b.FailNow()
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(len(lat)), "cpu-us/req")
	}
}

// BenchmarkServerGetUser is DESIGN.md's remote-mode target: GET
// /api/v1/users/{email} of a random one of 10,000 users, authenticated by
// an API token.
func BenchmarkServerGetUser(b *testing.B) {
	base, tok := benchServer(b)
	for _, w := range benchWorkers {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			benchLoad(b, base, tok, w, func(r *rand.Rand) string {
				return "/api/v1/users/" + sqlitetest.Email(r.IntN(benchUsers))
			})
		})
	}
}

// BenchmarkServerListUsers lists the first page of 50 of 10,000 users.
func BenchmarkServerListUsers(b *testing.B) {
	base, tok := benchServer(b)
	for _, w := range benchWorkers {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			benchLoad(b, base, tok, w, func(*rand.Rand) string { return "/api/v1/users?limit=50" })
		})
	}
}
