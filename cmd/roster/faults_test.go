package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/client"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
)

// The faults of issue 22, end to end: a real roster serve on a private
// PostgreSQL cluster (pgtest.StartCluster) that the test restarts, freezes
// or leaves in the middle of a transaction. Each test asks of every answer
// that it be the truth: a write acknowledged is in the database, a write
// reported failed is not, and a write whose outcome the server cannot know
// says so. The fourth fault, a client's connection cut after its write
// committed, is internal/client's TestWriteAnswerCut.

// faultStore is a fresh roster store in a database of its own on a
// private cluster, with its first owner.
func faultStore(t *testing.T) (*pgtest.Cluster, *replicas) {
	c := pgtest.StartCluster(t)
	r := &replicas{t: t, db: c.Database("roster")}
	r.roster("init", "--owner-email", "root@example.com", "--random-password")
	return c, r
}

// outcomes counts the answers to writes: each email acknowledged as
// created, reported failed, or reported of unknown outcome.
type outcomes struct {
	mu                     sync.Mutex
	acked, failed, unknown []string
	errs                   map[string]int // the failures' messages, by count
}

// record files the answer err to the creation of email.
func (o *outcomes) record(t *testing.T, email string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case err == nil:
		o.acked = append(o.acked, email)
		return
	case !errors.Is(err, roster.ErrUnavailable):
		// A connection-level failure is 503 / exit 7, never 500 / exit 1.
		t.Errorf("create %s: %v; want unavailable (503, exit 7)", email, err)
		o.failed = append(o.failed, email)
	case strings.Contains(err.Error()+" "+roster.Hint(err), "may or may not"):
		o.unknown = append(o.unknown, email)
	default:
		o.failed = append(o.failed, email)
	}
	if o.errs == nil {
		o.errs = map[string]int{}
	}
	o.errs[err.Error()]++
}

// check holds the answers to the rows there are: no acknowledged write
// lost, no write reported failed that committed.
func (o *outcomes) check(t *testing.T, rows map[string]bool) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	var lost, falselyFailed []string
	for _, e := range o.acked {
		if !rows[e] {
			lost = append(lost, e)
		}
	}
	for _, e := range o.failed {
		if rows[e] {
			falselyFailed = append(falselyFailed, e)
		}
	}
	committedUnknown := 0
	for _, e := range o.unknown {
		if rows[e] {
			committedUnknown++
		}
	}
	var msgs []string
	for m, n := range o.errs {
		msgs = append(msgs, fmt.Sprintf("%4d× %s", n, m))
	}
	sort.Strings(msgs)
	t.Logf("%d writes acknowledged, %d reported failed, %d reported of unknown outcome (%d of them committed); failures:\n%s",
		len(o.acked), len(o.failed), len(o.unknown), committedUnknown, strings.Join(msgs, "\n"))
	if len(lost) > 0 {
		t.Errorf("%d acknowledged writes lost: %v", len(lost), lost)
	}
	if len(falselyFailed) > 0 {
		t.Errorf("%d writes reported failed but committed: %v", len(falselyFailed), falselyFailed)
	}
}

// userSet is every user's email in the store, read locally.
func (r *replicas) userSet() map[string]bool {
	r.t.Helper()
	rows := map[string]bool{}
	for _, e := range strings.Fields(r.roster("user", "list", "--all", "-o", "name")) {
		rows[e] = true
	}
	return rows
}

// TestFaultPostgresRestart restarts PostgreSQL with pg_ctl restart -m
// immediate, twice, while 8 writers create users through a real roster
// serve, with the idempotency keys the client sends. Every answer must be
// the truth: 0 writes reported failed but committed, 0 acknowledged writes
// lost, and every failure a 503.
func TestFaultPostgresRestart(t *testing.T) {
	c, r := faultStore(t)
	url := r.serve()
	tok := r.token("root@example.com")
	ctx := context.Background()

	const writers = 8
	var o outcomes
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		cl, err := client.New(url, client.Options{Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				email := fmt.Sprintf("w%d-%05d@example.com", w, i)
				_, err := cl.CreateUser(ctx, roster.CreateUser{Email: email, Roles: []string{roster.RoleViewer}})
				o.record(t, email, err)
				if err != nil {
					time.Sleep(20 * time.Millisecond) // PostgreSQL is down: not a busy loop
				}
			}
		})
	}
	time.Sleep(time.Second)
	c.Restart("immediate")
	time.Sleep(time.Second)
	c.Restart("immediate")
	// Writes succeed again once PostgreSQL is back.
	o.mu.Lock()
	before := len(o.acked)
	o.mu.Unlock()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()

	if len(o.acked) == before {
		t.Errorf("no write was acknowledged after PostgreSQL came back")
	}
	if len(o.failed)+len(o.unknown) == 0 {
		t.Errorf("no write failed: the restarts did not reach the writers")
	}
	// A COMMIT whose answer the restart cut off is settled by the server
	// through the request's key, once PostgreSQL is back: no answer need
	// say "may or may not".
	if len(o.unknown) > 0 {
		t.Errorf("%d writes reported of unknown outcome: %v; want each settled through its idempotency key", len(o.unknown), o.unknown)
	}
	o.check(t, r.userSet())
}

// run runs one roster command on the store and returns its exit code and
// stderr, however it ends; env adds to its environment. A command still
// running after 30 s is killed: a test of one that hangs fails, not hangs.
func (r *replicas) run(env []string, args ...string) (code int, stderr string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "roster", append([]string{"--db", r.db}, args...)...)
	cmd.Env = append(append(cmd.Environ(), "HOME="+r.t.TempDir(), "XDG_CONFIG_HOME="+r.t.TempDir()), env...)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), errOut.String()
	case err != nil:
		r.t.Fatalf("roster %s: %v", strings.Join(args, " "), err)
	}
	return 0, errOut.String()
}

// hangUp is the HTTP client of requests that must be answered: one that
// takes more than 30 s fails the test rather than hangs it.
var hangUp = &http.Client{Timeout: 30 * time.Second}

// postUser sends POST /api/v1/users for email with an idempotency key,
// as curl would, and returns the status and body answered; err is set
// when no answer came (the connection closed: an empty reply).
func postUser(url, tok, key, email string) (status int, body string, err error) {
	req, err := http.NewRequest(http.MethodPost, url+"/api/v1/users", strings.NewReader(`{"email":"`+email+`","roles":["viewer"]}`))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	res, err := hangUp.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// TestFaultPostgresFrozen freezes PostgreSQL (SIGSTOP) under a real
// roster serve. Nothing may hang: a local command fails within its
// connect timeout with exit 7 and says why, /readyz answers 503 within
// 2 s, and a POST is answered while the database is still frozen, with
// the truth: a write answered failed is not committed once PostgreSQL
// resumes.
func TestFaultPostgresFrozen(t *testing.T) {
	c, r := faultStore(t)
	// The server's URL sets statement_timeout (docs/deploy.md, "Timeouts"),
	// so that it gives up on a database that does not answer after 3 s
	// plus 5 s of grace, not the default's 30 s plus 5.
	server := &replicas{t: t, db: r.db + "&statement_timeout=3s"}
	url := server.serve()
	tok := r.token("root@example.com")
	cl, err := client.New(url, client.Options{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The server has connections open when the database freezes.
	if _, err := cl.CreateUser(ctx, roster.CreateUser{Email: "before@example.com"}); err != nil {
		t.Fatal(err)
	}

	thaw := c.Freeze()
	frozen := time.Now()
	var o outcomes
	var wg sync.WaitGroup
	wg.Go(func() { // a local command, with the default timeouts
		start := time.Now()
		code, stderr := r.run(nil, "user", "list")
		took := time.Since(start)
		if code != 7 || took > 12*time.Second || !strings.Contains(stderr, "PostgreSQL") || !strings.Contains(stderr, "did not answer in time") {
			t.Errorf("roster user list on a frozen database: exit %d after %v, stderr:\n%s\nwant exit 7 within the 5 s connect timeout, saying the server did not answer", code, took.Round(time.Millisecond), stderr)
		}
	})
	wg.Go(func() {
		start := time.Now()
		res, err := hangUp.Get(url + "/readyz")
		took := time.Since(start)
		if err != nil {
			t.Errorf("/readyz on a frozen database: %v", err)
			return
		}
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || took > 2*time.Second {
			t.Errorf("/readyz on a frozen database: %s after %v; want 503 within 2s", res.Status, took.Round(time.Millisecond))
		}
	})
	var status int
	var body string
	wg.Go(func() {
		var err error
		status, body, err = postUser(url, tok, "frozen-post-key-0000000001", "curl@example.com")
		if err != nil {
			t.Errorf("POST /api/v1/users on a frozen database: no answer (%v)", err)
		}
		if took := time.Since(frozen); took > 15*time.Second {
			t.Errorf("POST /api/v1/users on a frozen database answered after %v; want it within the server's 8 s wait for the database", took.Round(time.Millisecond))
		}
	})
	wg.Go(func() { // the CLI's own client, keys and a resend included
		_, err := cl.CreateUser(ctx, roster.CreateUser{Email: "client@example.com"})
		o.record(t, "client@example.com", err)
	})
	wg.Wait()
	t.Logf("POST while frozen: %d %s", status, body)
	thaw()

	// Back: the server answers writes again.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := cl.CreateUser(ctx, roster.CreateUser{Email: "after@example.com"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write succeeded within 20s of PostgreSQL resuming: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	o.record(t, "after@example.com", nil)
	switch {
	case status >= 200 && status < 300:
		o.record(t, "curl@example.com", nil)
	case status > 0:
		o.record(t, "curl@example.com", roster.Errorf(roster.ErrUnavailable, "HTTP %d: %s", status, body))
	}
	o.check(t, r.userSet())
}

// served is a roster serve process whose stderr the test reads.
type served struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	log    strings.Builder
	exited chan struct{} // closed when the process has ended
	err    error         // Wait's, once exited
}

// startServe starts roster serve on db with args and returns it once it
// listens. It is killed when the test ends, if still running.
func startServe(t *testing.T, db string, args ...string) *served {
	t.Helper()
	s := &served{t: t, exited: make(chan struct{})}
	s.cmd = exec.Command("roster", append([]string{"--db", db, "serve", "--addr", "127.0.0.1:0"}, args...)...)
	s.cmd.Env = append(s.cmd.Environ(), "HOME="+t.TempDir())
	s.cmd.Stderr = s
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, addr, ok := strings.Cut(s.stderr(), "listening on "); ok && strings.Contains(addr, "\n") {
			s.url, _, _ = strings.Cut(addr, "\n")
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("roster serve did not say where it listens within 30s:\n%s", s.stderr())
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
}

func (s *served) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Write(b)
}

func (s *served) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// signal sends sig to the server.
func (s *served) signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// wait waits up to d for the server to exit and returns its exit code.
func (s *served) wait(d time.Duration) (code int, took time.Duration) {
	s.t.Helper()
	start := time.Now()
	select {
	case <-s.exited:
	case <-time.After(d):
		s.t.Fatalf("roster serve still running %v after it was told to stop; stderr:\n%s", d, s.stderr())
	}
	took = time.Since(start)
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return ee.ExitCode(), took
	}
	if s.err != nil {
		s.t.Fatal(s.err)
	}
	return 0, took
}

// stuckImport starts a remote import of n users through url that cannot
// finish: the test holds the audit table locked, so the import's
// transaction, its users inserted, waits to write their audit events. It
// returns when PostgreSQL shows the import waiting, with the import's
// outcome to come, and release, which ends the test's lock and returns
// once the import's transaction has ended too.
func stuckImport(t *testing.T, r *replicas, url string, n int) (result <-chan cliResult, release func()) {
	t.Helper()
	tok := r.token("root@example.com") // before the lock: it writes an audit event
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, r.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "BEGIN; LOCK TABLE audit IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	released := false
	release = func() {
		t.Helper()
		if released {
			return
		}
		released = true
		if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		// The import's transaction was queued for the lock first: once the
		// test holds it again, that transaction has ended.
		if _, err := conn.Exec(ctx, "SET lock_timeout = '30s'; BEGIN; LOCK TABLE audit IN ACCESS EXCLUSIVE MODE; ROLLBACK"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(release)

	var csv strings.Builder
	csv.WriteString("email,name\n")
	for i := range n {
		fmt.Fprintf(&csv, "import%05d@example.com,Imported %d\n", i, i)
	}
	file := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan cliResult, 1)
	go func() {
		cmd := exec.Command("roster", "--server", url, "import", file, "-q")
		cmd.Env = append(cmd.Environ(), "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(), "ROSTER_TOKEN="+tok)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		res := cliResult{stderr: stderr.String()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			res.code = ee.ExitCode()
		} else if err != nil {
			res.code = -1
			res.stderr += err.Error()
		}
		done <- res
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return done, release
		}
		select {
		case res := <-done:
			t.Fatalf("the import ended before it reached the locked table: exit %d\n%s", res.code, res.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the import did not reach the locked table within 30s")
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
}

// cliResult is how a roster command ended.
type cliResult struct {
	code   int
	stderr string
}

// within waits up to d for a command's result.
func within(t *testing.T, result <-chan cliResult, d time.Duration) cliResult {
	t.Helper()
	select {
	case res := <-result:
		return res
	case <-time.After(d):
		t.Fatalf("no answer within %v", d)
		return cliResult{}
	}
}

// imported counts the users of stuckImport's file in the store.
func imported(rows map[string]bool) int {
	n := 0
	for e := range rows {
		if strings.HasPrefix(e, "import") {
			n++
		}
	}
	return n
}

// TestFaultShutdownLongTransaction sends SIGTERM to a roster serve while
// a remote import is in the middle of its transaction and cannot finish.
// At the end of the grace (--shutdown-grace) the server cancels it, rolls
// it back, answers 503, and exits; nothing of the import is committed.
// A second signal stops the server at once.
func TestFaultShutdownLongTransaction(t *testing.T) {
	t.Run("the grace ends", func(t *testing.T) {
		_, r := faultStore(t)
		const grace = 2 * time.Second
		srv := startServe(t, r.db, "--shutdown-grace", grace.String())
		result, release := stuckImport(t, r, srv.url, 2000)

		srv.signal(syscall.SIGTERM)
		start := time.Now()
		res := within(t, result, grace+15*time.Second)
		answered := time.Since(start)
		if res.code != 7 || !strings.Contains(res.stderr, "shutting down") {
			t.Errorf("the import cut short by the shutdown: exit %d, stderr:\n%s\nwant exit 7, the server shutting down", res.code, res.stderr)
		}
		if answered < grace || answered > grace+5*time.Second {
			t.Errorf("the import was answered %v after SIGTERM; want at the end of the %v grace", answered.Round(time.Millisecond), grace)
		}
		// Answered and cancelled, the server exits on its own, cleanly.
		if code, _ := srv.wait(10 * time.Second); code != 0 {
			t.Errorf("roster serve exited %d after cancelling; want 0; stderr:\n%s", code, srv.stderr())
		}
		if !strings.Contains(srv.stderr(), "cancelling the requests still in flight") {
			t.Errorf("roster serve did not say it cancelled the import; stderr:\n%s", srv.stderr())
		}
		release()
		if n := imported(r.userSet()); n != 0 {
			t.Errorf("%d users of the cancelled import were committed; want none", n)
		}
	})

	t.Run("a second signal", func(t *testing.T) {
		_, r := faultStore(t)
		srv := startServe(t, r.db, "--shutdown-grace", "1m")
		result, release := stuckImport(t, r, srv.url, 2000)

		srv.signal(syscall.SIGTERM)
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(srv.stderr(), "shutting down"); {
			if time.Now().After(deadline) {
				t.Fatalf("roster serve did not say it was shutting down within 10s:\n%s", srv.stderr())
			}
			time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
		}
		srv.signal(syscall.SIGINT)
		code, took := srv.wait(5 * time.Second)
		if code != 1 || took > 2*time.Second {
			t.Errorf("roster serve on a second signal: exit %d after %v; want exit 1 at once", code, took.Round(time.Millisecond))
		}
		// The import's connection died with the server: its client cannot
		// know what happened, and says so.
		res := within(t, result, 15*time.Second)
		if res.code != 7 || !strings.Contains(res.stderr, "may or may not") {
			t.Errorf("the import whose server stopped at once: exit %d, stderr:\n%s\nwant exit 7, outcome unknown", res.code, res.stderr)
		}
		release()
		if n := imported(r.userSet()); n != 0 {
			t.Errorf("%d users of the import cut off were committed; want none", n)
		}
	})
}
