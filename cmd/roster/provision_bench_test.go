package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The benchmarks of issue 9's provisioning: whole roster processes, as
// in bench_test.go, figures in docs/benchmarks.md. Run them once each:
//
//	go test ./cmd/roster -run '^$' -bench 'Import|Export|Apply' -benchtime 1x

// usersCSV writes an import file of n users, prefix0000000@example.com …,
// members without passwords.
func usersCSV(b *testing.B, prefix string, n int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), prefix+".csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "email,name,roles")
	for i := range n {
		fmt.Fprintf(w, "%s%07d@example.com,User %d,member\n", prefix, i, i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkImport100k imports 100,000 new users into a store holding only
// its owner: a fresh store each time, made before the clock starts.
func BenchmarkImport100k(b *testing.B) {
	file := usersCSV(b, "u", 100_000)
	stores := map[int]string{}
	runRoster(b, "unused.db", func(i int) []string {
		db, ok := stores[i]
		if !ok {
			db = seeded(b, 0)
			stores[i] = db
		}
		// The last --db wins over the one runRoster gives.
		return []string{"--db", db, "import", file, "-q"}
	})
}

// BenchmarkImport100kRemote imports 100,000 new users through a real
// roster serve on a loopback port: the file goes as one streamed request
// and the server does all the work in one transaction. Each iteration
// imports other emails. Memory is the client's.
func BenchmarkImport100kRemote(b *testing.B) {
	bin, err := buildOnce()
	if err != nil {
		b.Fatal(err)
	}
	db := seeded(b, 0)
	url := serveBench(b, bin, db)
	out, err := exec.Command(bin, "--db", db, "token", "create", "--user", "owner@example.com", "-o", "json").Output()
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(out, &tok); err != nil {
		b.Fatal(err)
	}
	tokFile := filepath.Join(b.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(tok.Token), 0o600); err != nil {
		b.Fatal(err)
	}
	files := map[int]string{}
	runBinary(b, remoteOnly(b, bin), "", func(i int) []string {
		file, ok := files[i]
		if !ok {
			file = usersCSV(b, fmt.Sprintf("r%d-", i), 100_000)
			files[i] = file
		}
		return []string{"--server", url, "--token-file", tokFile, "import", file, "-q"}
	})
}

// remoteOnly wraps bin in a script that drops the --db runBinary gives, as
// --db and --server together are a usage error. The script execs roster,
// so the resource usage measured is roster's.
func remoteOnly(b *testing.B, bin string) string {
	b.Helper()
	script := filepath.Join(b.TempDir(), "roster-remote")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nshift 2\nexec "+bin+" \"$@\"\n"), 0o700); err != nil {
		b.Fatal(err)
	}
	return script
}

// serveBench starts roster serve on db and returns its URL once it is
// ready; it stops with the benchmark.
func serveBench(b *testing.B, bin, db string) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--db", db, "serve", "--addr", addr)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	url := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
	}
	b.Fatal("roster serve was not ready within 30s")
	return ""
}

// BenchmarkExport1M exports a million users as JSON lines to /dev/null;
// MiB-peak is the point: export streams, a page at a time.
func BenchmarkExport1M(b *testing.B) {
	db := seeded(b, 1_000_000)
	runRoster(b, db, func(int) []string { return []string{"export", "-o", "jsonl"} })
}

// BenchmarkApply10kEmpty applies a 10,000-user file that the store
// already matches (its own export): reading, planning and finding nothing
// to do.
func BenchmarkApply10kEmpty(b *testing.B) {
	bin, err := buildOnce()
	if err != nil {
		b.Fatal(err)
	}
	db := seeded(b, 10_000)
	manifest, err := exec.Command(bin, "--db", db, "export", "-o", "yaml").Output()
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), "roster.yaml")
	if err := os.WriteFile(file, manifest, 0o600); err != nil {
		b.Fatal(err)
	}
	// Exit 10: the plan is not empty, and this would measure something else.
	if out, err := exec.Command(bin, "--db", db, "apply", "-f", file, "--dry-run", "--exit-code").CombinedOutput(); err != nil {
		b.Fatalf("the store's own export is not an empty plan: %v\n%.2000s", err, out)
	}
	runRoster(b, db, func(int) []string { return []string{"apply", "-f", file, "-q"} })
}

// projectsCSV writes an import file of n users with roles and projects,
// as issue 22's review had them: three roles (some users two), and 75 %
// of rows in projects alpha, beta (with alpha) or gamma.
func projectsCSV(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), fmt.Sprintf("projects%d.csv", n))
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "email,name,roles,projects")
	roles := []string{"member", "member;viewer", "manager", "member"}
	projects := []string{"", "alpha", "alpha;beta", "gamma"}
	for i := range n {
		fmt.Fprintf(w, "p%07d@example.com,User %d,%s,%s\n", i, i, roles[i%4], projects[(i/4)%4])
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// projectStore is a store with its owner and the projects of projectsCSV.
func projectStore(b *testing.B) string {
	b.Helper()
	db := seeded(b, 0)
	bin, _ := buildOnce()
	for _, p := range []string{"alpha", "beta", "gamma"} {
		if out, err := exec.Command(bin, "--db", db, "project", "create", p, "-q").CombinedOutput(); err != nil {
			b.Fatalf("project create: %v\n%s", err, out)
		}
	}
	return db
}

// BenchmarkImportProjects imports 10,000 and 100,000 new users with roles
// and projects into a store holding its owner and three projects: a fresh
// store each time, made before the clock starts. Linear, ten times the
// rows take about ten times the time (issue 22: 10,000 took 4.2 s,
// 40,000 took 46.6 s).
func BenchmarkImportProjects(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%dk", n/1000), func(b *testing.B) {
			file := projectsCSV(b, n)
			stores := map[int]string{}
			runRoster(b, "unused.db", func(i int) []string {
				db, ok := stores[i]
				if !ok {
					db = projectStore(b)
					stores[i] = db
				}
				return []string{"--db", db, "import", file, "-q"}
			})
		})
	}
}

// BenchmarkApply100kEmpty applies a 100,000-user file, with roles and
// projects, that the store already matches (its own export -o yaml):
// MiB-peak is the point (issue 22: 0.87–1.15 GB; target ≤ 150 MB).
func BenchmarkApply100kEmpty(b *testing.B) {
	bin, err := buildOnce()
	if err != nil {
		b.Fatal(err)
	}
	db := projectStore(b)
	if out, err := exec.Command(bin, "--db", db, "import", projectsCSV(b, 100_000), "-q").CombinedOutput(); err != nil {
		b.Fatalf("import: %v\n%s", err, out)
	}
	manifest, err := exec.Command(bin, "--db", db, "export", "-o", "yaml").Output()
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), "roster.yaml")
	if err := os.WriteFile(file, manifest, 0o600); err != nil {
		b.Fatal(err)
	}
	runRoster(b, db, func(int) []string { return []string{"apply", "-f", file, "-q"} })
}
