// Command benchserver measures roster serve from outside, as issue 11
// asks: it builds roster, seeds a store with an owner and 10,000 users,
// mints the owner an API token, starts one or more roster serve processes
// on loopback and drives each endpoint with wrk (16 connections, 10 s by
// default), then prints requests/s, p50 and p99. It asserts nothing.
//
//	go run ./internal/tools/benchserver                      # SQLite, one server
//	go run ./internal/tools/benchserver -store postgres      # $ROSTER_TEST_POSTGRES
//	go run ./internal/tools/benchserver -store postgres -replicas 2
//	go run ./internal/tools/benchserver -rev main,HEAD      # two builds, taking turns
//	go run ./internal/tools/benchserver -pocketbase /tmp/pocketbase
//
// With -pocketbase DIR it also starts DIR/base, a PocketBase built from
// its examples/base, seeds the same users into its users collection and
// measures its GET of one record and its page of 50, with and without
// its total (see pocketbase.go). The servers take turns, run by run, and
// the tool ends with each one's page of 50 as a share of its GET of one.
//
// With several replicas (PostgreSQL only: they share one database) one
// wrk process drives each replica, all at once, with the connections
// split between them; requests/s is their sum, p50 and p99 the largest of
// theirs. Needs wrk (Debian: apt-get install -y wrk). See
// docs/benchmarks.md.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/store/sqlite/sqlitetest"
)

const owner = "owner@example.com"

type config struct {
	store       string
	pgURL       string
	replicas    int
	users       int
	connections int
	threads     int
	duration    time.Duration
	warmup      time.Duration
	runs        int
	endpoints   []string
	roster      string
	rev         string
	waitQuiet   time.Duration
	pocketbase  string
}

// revs are the roster builds to measure: -rev's, or the one from the
// working tree or -roster.
func (c *config) revs() []string {
	if c.rev == "" {
		return []string{""}
	}
	return strings.Split(c.rev, ",")
}

// endpoint is one measured request: a path on every replica.
type endpoint struct{ name, label, path string }

// target is the user GET one user and can ask about: one in the middle of
// the seeded users.
func endpoints(users int) []endpoint {
	target := sqlitetest.Email(users / 2)
	return []endpoint{
		{"user", "GET one user", "/api/v1/users/" + target},
		{"list", "GET a page of 50 users", "/api/v1/users?limit=50"},
		{"can", "can", "/api/v1/can?user=" + url.QueryEscape(target) + "&permission=users.view"},
	}
}

func main() {
	var c config
	var eps string
	flag.StringVar(&c.store, "store", "sqlite", "sqlite or postgres")
	flag.StringVar(&c.pgURL, "pg-url", os.Getenv("ROSTER_TEST_POSTGRES"), "PostgreSQL database URL; a fresh schema is made in it and dropped after (default $ROSTER_TEST_POSTGRES)")
	flag.IntVar(&c.replicas, "replicas", 1, "roster serve processes on the store (more than one needs -store postgres)")
	flag.IntVar(&c.users, "users", 10_000, "users to seed, besides the owner")
	flag.IntVar(&c.connections, "connections", 16, "wrk connections in all, split between the replicas")
	flag.IntVar(&c.threads, "threads", 2, "wrk threads in all, split between the replicas (at least one each)")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "how long wrk drives each endpoint")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "an unrecorded wrk run per endpoint first (0: none)")
	flag.IntVar(&c.runs, "runs", 1, "measure each endpoint this many times")
	flag.StringVar(&eps, "endpoints", "user,list,can", "endpoints to measure: user, list, can")
	flag.StringVar(&c.roster, "roster", "", "a built roster binary (default: go build one)")
	flag.StringVar(&c.rev, "rev", "", "build roster from this git revision rather than the working tree; several, comma-separated, take turns (e.g. main,HEAD)")
	flag.StringVar(&c.pocketbase, "pocketbase", "", "a directory holding a PocketBase built from its examples/base, as ./base: measured beside roster (SQLite only)")
	flag.DurationVar(&c.waitQuiet, "wait-quiet", 0, "before each run, wait up to this long for a second in which other processes use under 0.25 CPU")
	flag.Parse()
	c.endpoints = strings.Split(eps, ",")
	if err := c.check(); err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, c)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(1)
	}
}

func (c *config) check() error {
	switch {
	case c.store != "sqlite" && c.store != "postgres":
		return fmt.Errorf("-store %q: want sqlite or postgres", c.store)
	case c.store == "postgres" && c.pgURL == "":
		return errors.New("-store postgres needs -pg-url or ROSTER_TEST_POSTGRES, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	case c.replicas < 1 || c.replicas > 8:
		return fmt.Errorf("-replicas %d: want 1 to 8", c.replicas)
	case c.replicas > 1 && c.store != "postgres":
		return errors.New("several replicas share one database: use -store postgres")
	case c.connections < c.replicas:
		return fmt.Errorf("-connections %d: want at least one per replica", c.connections)
	case c.users < 1:
		return fmt.Errorf("-users %d: want at least 1", c.users)
	case c.duration < time.Second || c.duration > 10*time.Minute:
		return fmt.Errorf("-duration %v: want 1s to 10m", c.duration)
	case c.warmup < 0 || c.warmup > time.Minute:
		return fmt.Errorf("-warmup %v: want 0 to 1m", c.warmup)
	case c.roster != "" && c.rev != "":
		return errors.New("-roster and -rev: give one")
	case c.waitQuiet < 0 || c.waitQuiet > 10*time.Minute:
		return fmt.Errorf("-wait-quiet %v: want 0 to 10m", c.waitQuiet)
	case c.runs < 1 || c.runs > 10:
		return fmt.Errorf("-runs %d: want 1 to 10", c.runs)
	case len(c.revs()) > 4:
		return fmt.Errorf("-rev %s: at most 4 revisions", c.rev)
	case c.pocketbase != "" && c.store != "sqlite":
		return errors.New("-pocketbase: PocketBase keeps its data in SQLite; measure it with -store sqlite")
	}
	if c.pocketbase != "" {
		if _, err := os.Stat(filepath.Join(c.pocketbase, "base")); err != nil {
			return fmt.Errorf("-pocketbase: %v (build it: see docs/benchmarks.md)", err)
		}
	}
	known := map[string]bool{}
	for _, e := range endpoints(c.users) {
		known[e.name] = true
	}
	for _, e := range c.endpoints {
		if !known[e] {
			return fmt.Errorf("-endpoints: unknown %q; want user, list or can", e)
		}
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (Debian: apt-get install -y wrk)")
	}
	return nil
}

// server is one server under test: roster at one build, or PocketBase.
type server struct {
	name    string // how the table names it
	version string // what was built, or which binary
	urls    []string
	pids    []int
	tok     string
	eps     []endpoint
}

func run(ctx context.Context, c config) error {
	tmp, err := os.MkdirTemp("", "roster-benchserver")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var servers []*server
	for i, rev := range c.revs() {
		s, stop, err := startRoster(ctx, c, rev, filepath.Join(tmp, fmt.Sprint("roster", i)))
		defer stop()
		if err != nil {
			return err
		}
		servers = append(servers, s)
	}
	if c.pocketbase != "" {
		s, stop, err := startPocketBase(ctx, c, filepath.Join(tmp, "pocketbase"))
		defer stop()
		if err != nil {
			return err
		}
		servers = append(servers, s)
	}
	for _, s := range servers {
		for _, u := range s.urls {
			for _, e := range s.eps {
				if err := probe(ctx, u+e.path, s.tok); err != nil {
					return err
				}
			}
		}
	}

	host, _ := os.Hostname()
	fmt.Printf("%s, %d replica(s), %d users; wrk %d connections, %v per run\n", c.store, c.replicas, c.users, c.connections, c.duration)
	for _, s := range servers {
		fmt.Printf("%s: %s\n", s.name, s.version)
	}
	fmt.Printf("machine: %s, %d CPUs, %s; %s\n", host, runtime.NumCPU(), kernel(), time.Now().UTC().Format(time.RFC3339))
	fmt.Println()
	fmt.Println("CPU in cores: busy before = the whole machine in the second before the run;")
	fmt.Print("server = the server's processes during the run; others = the rest of the machine during the run, less wrk")
	if c.store == "postgres" {
		fmt.Print(" and less every postgres process (postgres)")
	}
	fmt.Print(".\n")
	fmt.Print("RSS = the largest peak resident set of the server's processes so far (VmHWM).\n")
	if len(servers) > 1 {
		fmt.Print("The servers take turns: every endpoint of each, then the next run.\n")
	}
	fmt.Println()
	fmt.Println("| server | endpoint | store | replicas | run | req/s | p50 | p99 | errors | busy before | server CPU | postgres | others | RSS |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	if c.warmup > 0 {
		for _, s := range servers {
			for _, e := range s.eps {
				if _, err := drive(ctx, c, s.urls, e.path, s.tok, c.warmup); err != nil {
					return err
				}
			}
		}
	}
	// Each run's req/s and the server's CPU per request (µs), by
	// endpoint: the second holds still when other processes take CPU
	// from the server, the first does not.
	rps, cpu := map[*server]map[string][]float64{}, map[*server]map[string][]float64{}
	for _, s := range servers {
		rps[s], cpu[s] = map[string][]float64{}, map[string][]float64{}
	}
	for i := range c.runs {
		for _, s := range servers {
			for _, e := range s.eps {
				res, cores, err := measure(ctx, c, s, e, i+1)
				if err != nil {
					return err
				}
				rps[s][e.name] = append(rps[s][e.name], res.RPS)
				cpu[s][e.name] = append(cpu[s][e.name], 1e6*cores/res.RPS)
			}
		}
	}
	fmt.Println()
	fmt.Println("Page of 50 as a share of GET one: by their mean req/s, and by the server's mean CPU per request (µs).")
	fmt.Println()
	fmt.Println("| server | page | page ÷ GET, req/s | CPU µs/req, GET one | CPU µs/req, page | GET ÷ page, CPU per request |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, s := range servers {
		for _, page := range []string{"list", "list-total"} {
			if len(rps[s][page]) > 0 && len(rps[s]["user"]) > 0 {
				get, pg := mean(cpu[s]["user"]), mean(cpu[s][page])
				fmt.Printf("| %s | %s | %.1f %% | %.0f | %.0f | %.1f %% |\n", s.name, page,
					100*mean(rps[s][page])/mean(rps[s]["user"]), get, pg, 100*get/pg)
			}
		}
	}
	return nil
}

func mean(v []float64) float64 {
	var sum float64
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// measure runs wrk on one endpoint of s and prints a row of the table.
// It returns wrk's figures and the cores the server used.
func measure(ctx context.Context, c config, s *server, e endpoint, run int) (wrkResult, float64, error) {
	before := waitQuiet(ctx, c.waitQuiet)
	pgPids := func() []int { return nil }
	if c.store == "postgres" {
		pgPids = func() []int { return pidsNamed("postgres") }
	}
	s0, r0, p0 := sampleCPU(), procTicks(s.pids), procTicks(pgPids())
	res, err := drive(ctx, c, s.urls, e.path, s.tok, c.duration)
	if err != nil {
		return res, 0, err
	}
	s1, r1, p1 := sampleCPU(), procTicks(s.pids), procTicks(pgPids())
	d := s1.at.Sub(s0.at)
	ours, pgCores := ticksToCores(ticksSince(r0, r1), d), ticksToCores(ticksSince(p0, p1), d)
	others := s0.cores(s1) - ours - pgCores - res.CPU.Seconds()/d.Seconds()
	pgCol := "—"
	if c.store == "postgres" {
		pgCol = fmt.Sprintf("%.2f", pgCores)
	}
	fmt.Printf("| %s | %s | %s | %d | %d | %s | %s | %s | %d | %.2f | %.2f | %s | %.2f | %.1f MiB |\n", s.name, e.label, c.store, len(s.urls), run,
		thousands(res.RPS), ms(res.P50), ms(res.P99), res.Non2xx+res.SocketErrors, before, ours, pgCol, max(others, 0),
		float64(peakRSS(s.pids))/1024)
	return res, ours, nil
}

// startRoster builds roster at rev (see buildRoster; "" is the working
// tree, unless -roster names a binary), seeds a store for it in dir and
// starts its replicas. stop stops them and drops what was made; call it
// even after an error.
func startRoster(ctx context.Context, c config, rev, dir string) (*server, func(), error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, stop, err
	}
	s := &server{name: "roster"}
	bin := c.roster
	s.version = "binary " + c.roster
	if bin == "" {
		bin = filepath.Join(dir, "roster")
		v, err := buildRoster(ctx, bin, rev, dir)
		if err != nil {
			return nil, stop, err
		}
		s.version = v
		if rev != "" {
			s.name = "roster " + rev
		}
	}
	r := &rosterEnv{bin: bin, home: dir}
	start := time.Now()
	switch c.store {
	case "sqlite":
		r.db = filepath.Join(dir, "roster.db")
		if err := r.cmd(ctx, "init", "--owner-email", owner, "--random-password"); err != nil {
			return nil, stop, err
		}
		if err := seedSQLite(r.db, c.users); err != nil {
			return nil, stop, err
		}
	case "postgres":
		db, drop, err := pgSchema(ctx, c.pgURL)
		if err != nil {
			return nil, stop, err
		}
		stops = append(stops, drop)
		r.db = db
		if err := r.cmd(ctx, "init", "--owner-email", owner, "--random-password"); err != nil {
			return nil, stop, err
		}
		if err := seedPostgres(ctx, db, c.users); err != nil {
			return nil, stop, err
		}
	}
	var err error
	if s.tok, err = r.token(ctx); err != nil {
		return nil, stop, err
	}
	fmt.Fprintf(os.Stderr, "seeded %s for %s with %d users and minted a token in %v\n", c.store, s.name, c.users, time.Since(start).Round(time.Millisecond))
	for range c.replicas {
		u, pid, stopServe, err := r.serve(ctx)
		if err != nil {
			return nil, stop, err
		}
		stops = append(stops, stopServe)
		s.urls = append(s.urls, u)
		s.pids = append(s.pids, pid)
	}
	for _, e := range endpoints(c.users) {
		if slices.Contains(c.endpoints, e.name) {
			s.eps = append(s.eps, e)
		}
	}
	return s, stop, nil
}

// drive runs one wrk per replica at once for d and combines them:
// requests/s summed, p50 and p99 the largest.
func drive(ctx context.Context, c config, urls []string, path, tok string, d time.Duration) (wrkResult, error) {
	n := len(urls)
	threads := max(1, c.threads/n)
	results := make([]wrkResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, u := range urls {
		conns := c.connections / n
		if i < c.connections%n {
			conns++
		}
		wg.Go(func() { results[i], errs[i] = wrk(ctx, u+path, tok, min(threads, conns), conns, d) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return wrkResult{}, err
	}
	var sum wrkResult
	for _, r := range results {
		sum.Requests += r.Requests
		sum.RPS += r.RPS
		sum.P50 = max(sum.P50, r.P50)
		sum.P99 = max(sum.P99, r.P99)
		sum.Non2xx += r.Non2xx
		sum.SocketErrors += r.SocketErrors
		sum.CPU += r.CPU
	}
	return sum, nil
}

// wrk runs one wrk --latency and parses what it prints.
func wrk(ctx context.Context, target, tok string, threads, conns int, d time.Duration) (wrkResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	secs := int((d + time.Second - 1) / time.Second)
	cmd := exec.CommandContext(ctx, "wrk", "--latency", "-t", fmt.Sprint(threads), "-c", fmt.Sprint(conns),
		"-d", fmt.Sprintf("%ds", secs), "--timeout", "5s", "-H", "Authorization: Bearer "+tok, target)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %v\n%s%s", target, err, out, stderr.String())
	}
	res, err := parseWrk(string(out))
	res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res, err
}

// rosterEnv runs the built roster on one store, with a home of its own so
// that no user configuration or ROSTER_ variable reaches it.
type rosterEnv struct{ bin, home, db string }

func (r *rosterEnv) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.bin, append([]string{"--db", r.db}, args...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ROSTER_") && !strings.HasPrefix(kv, "XDG_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+r.home, "XDG_CONFIG_HOME="+filepath.Join(r.home, "config"),
		"XDG_DATA_HOME="+filepath.Join(r.home, "data"))
	return cmd
}

func (r *rosterEnv) output(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := r.command(ctx, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("roster %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

func (r *rosterEnv) cmd(ctx context.Context, args ...string) error {
	_, err := r.output(ctx, args...)
	return err
}

// token mints an API token for the owner, who may see every user.
func (r *rosterEnv) token(ctx context.Context) (string, error) {
	out, err := r.output(ctx, "token", "create", "--user", owner, "--name", "benchserver", "-o", "json")
	if err != nil {
		return "", err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(out, &tok); err != nil || tok.Token == "" {
		return "", fmt.Errorf("token create printed %q: %v", out, err)
	}
	return tok.Token, nil
}

// serve starts roster serve on a free loopback port and returns its URL
// and a function that stops it. The request log goes nowhere.
func (r *rosterEnv) serve(ctx context.Context) (string, int, func(), error) {
	cmd := r.command(context.Background(), "serve", "--addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", 0, nil, err
	}
	addr, stop, err := startServer(ctx, cmd, stderr, "listening on ")
	if err != nil {
		return "", 0, nil, fmt.Errorf("roster serve: %w", err)
	}
	return addr, cmd.Process.Pid, stop, nil
}

// startServer starts cmd, a server, and waits up to 30 s for it to print
// a line holding marker on out (its stdout or stderr); it returns the rest
// of that line and a function that stops the server. Everything else it
// prints is discarded.
func startServer(ctx context.Context, cmd *exec.Cmd, out io.Reader, marker string) (string, func(), error) {
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), marker); ok {
				found <- strings.TrimSpace(rest)
				break
			}
		}
		io.Copy(io.Discard, out) // ends when the server exits
	}()
	select {
	case rest := <-found:
		return rest, stop, nil
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	stop()
	return "", nil, fmt.Errorf("did not print %q within 30s", marker)
}

// probe checks that target answers 200 to the token before wrk counts it.
func probe(ctx context.Context, target, tok string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", target, resp.Status, body)
	}
	return nil
}

// seedTB lets sqlitetest.SeedUsers, written for benchmarks, report a
// failure here: Fatal panics with seedFailure, which seedSQLite recovers.
// SeedUsers calls only Helper and Fatal; any other method is nil.
type seedTB struct{ testing.TB }

type seedFailure string

func (seedTB) Helper()                           {}
func (seedTB) Fatal(args ...any)                 { panic(seedFailure(fmt.Sprint(args...))) }
func (seedTB) Fatalf(format string, args ...any) { panic(seedFailure(fmt.Sprintf(format, args...))) }

// seedSQLite adds n users, as the process benchmarks do (one transaction,
// straight SQL), to the initialised store at path.
func seedSQLite(path string, n int) (err error) {
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(seedFailure)
			if !ok {
				panic(p)
			}
			err = fmt.Errorf("seeding %s: %s", path, f)
		}
	}()
	sqlitetest.SeedUsers(seedTB{}, path, n)
	return nil
}

// pgSchema makes a fresh schema in the database at base and returns a URL
// whose search_path is that schema, and a function that drops it.
func pgSchema(ctx context.Context, base string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, errors.New("-pg-url: not a URL")
	}
	var b [5]byte
	rand.Read(b[:])
	schema := "roster_bench_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{schema}.Sanitize()
	if err := pgExec(ctx, base, "CREATE SCHEMA "+ident); err != nil {
		return "", nil, err
	}
	drop := func() {
		// Not ctx: the schema must go even after an interrupt.
		if err := pgExec(context.Background(), base, "DROP SCHEMA IF EXISTS "+ident+" CASCADE"); err != nil {
			fmt.Fprintln(os.Stderr, "benchserver:", err)
		}
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

func pgExec(ctx context.Context, dbURL string, stmts ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		u, _ := url.Parse(dbURL)
		return fmt.Errorf("connect to %s: %v", u.Redacted(), err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%.60s…: %v", s, err)
		}
	}
	return nil
}

// seedPostgres adds n users like sqlitetest.SeedUsers does (same emails,
// names and role), in one statement, and updates the planner's statistics
// as autovacuum would on a store that has lived a while.
func seedPostgres(ctx context.Context, dbURL string, n int) error {
	return pgExec(ctx, dbURL,
		fmt.Sprintf(`WITH u AS (
			INSERT INTO users (org_id, email, email_key, name, name_key, status, created_at, updated_at)
			SELECT 1, e, e, 'User ' || i, 'user ' || i, 'active', now(), now()
			FROM generate_series(0, %d) AS i, format('u%%s@example.com', lpad(i::text, 7, '0')) AS e
			RETURNING id)
		INSERT INTO user_roles (org_id, user_id, role) SELECT 1, id, 'member' FROM u`, n-1),
		"ANALYZE")
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return runtime.GOOS
	}
	return "Linux " + strings.TrimSpace(string(b))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// buildRoster builds roster as a user would run it, from the working tree
// or, given rev, from that commit (exported into tmp, so that uncommitted
// changes do not leak into the figures), and says which it built.
func buildRoster(ctx context.Context, bin, rev, tmp string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	git := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "git", args...).Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/roster")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build and make install do
	var version string
	if rev == "" {
		root, err := git("rev-parse", "--show-toplevel")
		if err != nil {
			return "", err
		}
		build.Dir = root
		version, err = git("describe", "--always", "--dirty")
		if err != nil {
			return "", err
		}
		version = "working tree at " + version
	} else {
		commit, err := git("rev-parse", "--verify", rev+"^{commit}")
		if err != nil {
			return "", err
		}
		src, archive := filepath.Join(tmp, "src"), filepath.Join(tmp, "src.tar")
		if err := os.Mkdir(src, 0o755); err != nil {
			return "", err
		}
		if _, err := git("archive", "-o", archive, commit); err != nil {
			return "", err
		}
		if out, err := exec.CommandContext(ctx, "tar", "-xf", archive, "-C", src).CombinedOutput(); err != nil {
			return "", fmt.Errorf("tar: %v\n%s", err, out)
		}
		build.Dir = src
		version = "commit " + commit[:12]
	}
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return version, nil
}
