package main

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/store/sqlite"
	"github.com/roster-dev/roster/internal/store/sqlite/sqlitetest"
)

// The benchmarks here time whole roster processes, as a user runs them:
// start-up, opening the store, the work and exit. They report the median
// and the peak resident memory of the runs; they assert nothing. Figures
// and targets: docs/benchmarks.md.

var buildOnce = sync.OnceValues(func() (string, error) { return build("") })

// build builds roster as a user would, with extra -ldflags.
func build(ldflags string) (string, error) {
	dir, err := os.MkdirTemp("", "roster-bench")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "roster")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w "+ldflags, "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build and make install do
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// seeded returns a store initialised with an owner plus n users named
// u0000000@example.com …, written in one transaction.
func seeded(b *testing.B, n int) string {
	b.Helper()
	bin, err := buildOnce()
	if err != nil {
		b.Fatal(err)
	}
	db := filepath.Join(b.TempDir(), "roster.db")
	if out, err := exec.Command(bin, "--db", db, "init", "--owner-email", "owner@example.com", "--random-password").CombinedOutput(); err != nil {
		b.Fatalf("init: %v\n%s", err, out)
	}
	sqlitetest.SeedUsers(b, db, n)
	return db
}

// runRoster times one roster process per iteration; args(i) gives the
// arguments of iteration i.
func runRoster(b *testing.B, db string, args func(i int) []string) {
	b.Helper()
	bin, err := buildOnce()
	if err != nil {
		b.Fatal(err)
	}
	runBinary(b, bin, db, args)
}

// runBinary is runRoster with a given roster binary. Besides the median
// wall time it reports the median CPU time (user and system), which,
// unlike wall time, other load on the machine barely moves, and the peak
// memory of up to five more runs (see peakKiB).
func runBinary(b *testing.B, bin, db string, args func(i int) []string) {
	b.Helper()
	var times, cpus []time.Duration
	i := 0
	for b.Loop() {
		cmd := exec.Command(bin, append([]string{"--db", db}, args(i)...)...)
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("roster %v: %v", args(i), err)
		}
		times = append(times, time.Since(start))
		cpus = append(cpus, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		i++
	}
	slices.Sort(times)
	slices.Sort(cpus)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(cpus[len(cpus)/2].Microseconds())/1000, "cpu-ms-median")
	var peak int64
	for range min(5, len(times)) { // one run for a benchmark run once
		kib, err := peakKiB(bin, append([]string{"--db", db}, args(i)...))
		if err != nil {
			b.Logf("no peak memory: %v", err)
			return
		}
		peak = max(peak, kib)
		i++
	}
	b.ReportMetric(float64(peak)/1024, "MiB-peak")
}

// peakKiB runs bin once under GNU time and returns the largest resident
// set it reports. The child's own rusage will not do: Go starts a child
// with vfork, sharing the test process's memory until exec, and Linux
// carries that memory's high-water mark into the child's ru_maxrss, so a
// 1 MiB /bin/true run from a 68 MiB test process reports 68 MiB. GNU time
// forks, from a process of 1 MiB.
func peakKiB(bin string, args []string) (int64, error) {
	gnuTime, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		return 0, fmt.Errorf("%w (Debian: apt-get install -y time)", err)
	}
	report := filepath.Join(os.TempDir(), fmt.Sprintf("roster-bench-rss-%d", os.Getpid()))
	defer os.Remove(report)
	cmd := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", report, bin}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("roster %v: %v\n%s", args, err, out)
	}
	text, err := os.ReadFile(report)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(text)), 10, 64)
}

func BenchmarkHelp(b *testing.B) {
	runRoster(b, "unused.db", func(int) []string { return []string{"--help"} })
}

func BenchmarkUserCreatePassword10k(b *testing.B) {
	db := seeded(b, 10_000)
	pwFile := filepath.Join(b.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("a-fine-long-passphrase\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	runRoster(b, db, func(i int) []string {
		return []string{"user", "create", fmt.Sprintf("new%d@example.com", i), "--password-file", pwFile}
	})
}

// BenchmarkUserCreatePasswordProfiles runs user create with a password
// under each of OWASP's equal-strength argon2id profiles, each in a
// roster built to hash with it, to choose the one that meets DESIGN.md's
// target (≤ 35 ms, ≤ 30 MiB) in a whole process, where the memory a hash
// touches is new and costs a page fault every 4 KiB.
func BenchmarkUserCreatePasswordProfiles(b *testing.B) {
	for _, profile := range []string{"m19456t2", "m12288t3", "m9216t4", "m7168t5"} {
		b.Run(profile, func(b *testing.B) {
			bin, err := build("-X github.com/roster-dev/roster/internal/password.profile=" + profile)
			if err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(filepath.Dir(bin))
			db := seeded(b, 10_000)
			pwFile := filepath.Join(b.TempDir(), "pw")
			if err := os.WriteFile(pwFile, []byte("a-fine-long-passphrase\n"), 0o600); err != nil {
				b.Fatal(err)
			}
			runBinary(b, bin, db, func(i int) []string {
				return []string{"user", "create", fmt.Sprintf("new%d@example.com", i), "--password-file", pwFile}
			})
		})
	}
}

func BenchmarkUserCreateNoPassword10k(b *testing.B) {
	db := seeded(b, 10_000)
	runRoster(b, db, func(i int) []string {
		return []string{"user", "create", fmt.Sprintf("new%d@example.com", i), "--no-password"}
	})
}

func BenchmarkUserDeactivate10k(b *testing.B) {
	db := seeded(b, 10_000)
	runRoster(b, db, func(i int) []string {
		return []string{"user", "deactivate", sqlitetest.Email(i)}
	})
}

// BenchmarkUserList1M lists a store of a million users: the first page,
// every page as JSON, streamed (its peak memory is the point), and the
// first page of searches: for one user's email (the index finds it), for
// text every email holds (the scan in email order fills the page at once)
// and for two characters nobody holds (too short for the index: a scan
// of every user).
func BenchmarkUserList1M(b *testing.B) {
	if testing.Short() {
		b.Skip("seeding a million users takes a while")
	}
	db := seeded(b, 1_000_000)
	b.Run("first-page", func(b *testing.B) {
		runRoster(b, db, func(int) []string { return []string{"user", "list"} })
	})
	b.Run("all-json", func(b *testing.B) {
		runRoster(b, db, func(int) []string { return []string{"user", "list", "--all", "-o", "json"} })
	})
	for name, search := range map[string]string{"one": "u0666666@", "everyone": "example.com", "short-none": "zq"} {
		b.Run("search-"+name, func(b *testing.B) {
			runRoster(b, db, func(int) []string { return []string{"user", "list", "--search", search} })
		})
	}
}

// seedProjects adds projects p0…p(n-1) to a seeded store, and makes the
// first members users u0000000… members of p0.
func seedProjects(b *testing.B, db string, n, members int) {
	b.Helper()
	conn, err := sql.Open("sqlite", sqlite.DSN(db))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.Begin()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UnixMicro()
	for i := range n {
		if _, err := tx.Exec(`INSERT INTO projects (org_id, slug, created_at, updated_at) VALUES (1, ?, ?, ?)`, fmt.Sprintf("p%d", i), now, now); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := tx.Exec(`INSERT INTO memberships (project_id, user_id, created_at)
		SELECT (SELECT id FROM projects WHERE slug = 'p0'), id, ? FROM users WHERE email LIKE 'u%' ORDER BY id LIMIT ?`, now, members); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMemberAdd1000 adds 1,000 users to a project in one call.
func BenchmarkMemberAdd1000(b *testing.B) {
	db := seeded(b, 10_000)
	seedProjects(b, db, 200, 0)
	users := make([]string, 1000)
	for i := range users {
		users[i] = sqlitetest.Email(i)
	}
	runRoster(b, db, func(i int) []string {
		return append([]string{"project", "member", "add", fmt.Sprintf("p%d", i+1), "-q", "-o", "name"}, users...)
	})
}

// BenchmarkUserListProject10k lists the first page of a project of 10,000
// members in a store of 100,000 users.
func BenchmarkUserListProject10k(b *testing.B) {
	db := seeded(b, 100_000)
	seedProjects(b, db, 1, 10_000)
	runRoster(b, db, func(int) []string { return []string{"user", "list", "--project", "p0"} })
}

// BenchmarkUserListOrgs lists the first page of one organisation of 100
// users, alone in its store and in the middle of 1,000 with the same
// emails (issue 18: ≤ 15 ms, as for a million users).
func BenchmarkUserListOrgs(b *testing.B) {
	if testing.Short() {
		b.Skip("seeds 1,000 organisations")
	}
	const perOrg = 100
	alone := seeded(b, perOrg)
	many := seeded(b, 0)
	slug := fmt.Sprintf("org-%04d", 500)
	sqlitetest.SeedOrgs(b, many, 1000, perOrg)
	b.Run("orgs=1", func(b *testing.B) {
		runRoster(b, alone, func(int) []string { return []string{"user", "list"} })
	})
	b.Run("orgs=1000", func(b *testing.B) {
		runRoster(b, many, func(int) []string { return []string{"--org", slug, "user", "list"} })
	})
}
