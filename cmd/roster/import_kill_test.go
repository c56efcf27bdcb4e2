package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestImportKilled kills roster (SIGKILL) in the middle of an import of
// 100,000 users, at several points: reading the file, inserting, late in
// the transaction. Each time the store must be exactly as before the
// import (all or nothing is one transaction, and a transaction that never
// committed leaves no trace) and roster db check must find it sound.
func TestImportKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 100,000 users several times")
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "base.db")
	roster := func(db string, args ...string) (string, error) {
		cmd := exec.Command("roster", append([]string{"--db", db}, args...)...)
		cmd.Env = append(cmd.Environ(), "HOME="+dir)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("roster %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String(), err
	}
	must := func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// A store with something in it: users, a project, history.
	must(roster(base, "init", "--owner-email", "owner@example.com", "--random-password"))
	must(roster(base, "project", "create", "billing"))
	must(roster(base, "user", "create", "u000007@example.com", "--no-password", "--role", "manager", "--project", "billing"))
	must(roster(base, "user", "create", "kept@example.com", "--no-password"))

	var csv bytes.Buffer
	csv.WriteString("email,name,roles,projects\n")
	for i := range 100_000 {
		projects := ""
		if i%10 == 0 {
			projects = "billing"
		}
		fmt.Fprintf(&csv, "u%06d@example.com,User %d,member,%s\n", i, i, projects)
	}
	file := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(file, csv.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	// state is everything the import could change, as roster shows it.
	state := func(db string) string {
		t.Helper()
		return must(roster(db, "user", "list", "--all", "-o", "json")) +
			must(roster(db, "audit", "list", "--limit", "100000", "-o", "json")) +
			must(roster(db, "project", "list", "-o", "json"))
	}
	before := state(base)

	for _, after := range []time.Duration{150 * time.Millisecond, 700 * time.Millisecond, 1500 * time.Millisecond, 2500 * time.Millisecond} {
		t.Run(fmt.Sprintf("after %v", after), func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "roster.db")
			copyStore(t, base, db)
			cmd := exec.Command("roster", "--db", db, "import", file, "-q")
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				// A machine fast enough finishes first: then all of it is there.
				if err != nil {
					t.Fatalf("import: %v", err)
				}
				t.Logf("the import finished within %v: checking it is whole", after)
				if n := strings.Count(must(roster(db, "user", "list", "--all", "-o", "name")), "\n"); n != 100_002 {
					t.Errorf("a finished import left %d users, want 100,002", n)
				}
			case <-time.After(after):
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				err := <-exited
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					// It finished between the timer and the signal.
					t.Logf("the import ended before the kill: %v", err)
					return
				}
				if got := state(db); got != before {
					t.Errorf("the store changed though the import was killed:\nbefore: %.2000s\nafter: %.2000s", before, got)
				}
			}
			out, err := roster(db, "db", "check")
			if err != nil {
				t.Errorf("db check after the kill: %v\n%s", err, out)
			}
		})
	}
}

// copyStore copies a SQLite store, closed, with its WAL if any.
func copyStore(t *testing.T, from, to string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(from + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
