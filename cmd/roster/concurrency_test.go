package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentProcesses runs several roster processes writing to one
// store at once: every command must succeed (no SQLITE_BUSY reaching the
// user) and every change must be there afterwards.
func TestConcurrentProcesses(t *testing.T) {
	const procs, perProc = 6, 15
	db := filepath.Join(t.TempDir(), "roster.db")
	roster := func(args ...string) (string, error) {
		cmd := exec.Command("roster", append([]string{"--db", db}, args...)...)
		cmd.Env = append(cmd.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := roster("init", "--owner-email", "owner@example.com", "--random-password"); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	var wg sync.WaitGroup
	errs := make(chan string, procs*perProc*2)
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProc {
				email := fmt.Sprintf("p%d-u%d@example.com", p, i)
				if out, err := roster("user", "create", email, "--no-password", "--role", "viewer"); err != nil {
					errs <- fmt.Sprintf("create %s: %v: %s", email, err, out)
					continue
				}
				if i%3 == 0 {
					if out, err := roster("user", "deactivate", email); err != nil {
						errs <- fmt.Sprintf("deactivate %s: %v: %s", email, err, out)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	out, err := roster("user", "list", "--all", "-o", "json")
	if err != nil {
		t.Fatalf("list: %v\n%s", err, out)
	}
	var users []struct {
		Email  string `json:"email"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &users); err != nil {
		t.Fatalf("list output: %v\n%s", err, out)
	}
	deactivated := 0
	for _, u := range users {
		if u.Status == "deactivated" {
			deactivated++
		}
	}
	wantDeact := procs * ((perProc + 2) / 3)
	if len(users) != 1+procs*perProc || deactivated != wantDeact {
		t.Errorf("store has %d users, %d deactivated; want %d and %d", len(users), deactivated, 1+procs*perProc, wantDeact)
	}
	out, err = roster("audit", "list", "--limit", "10000", "-o", "name")
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	// init writes two events; each create and each deactivate one.
	if n, want := len(strings.Fields(out)), 2+procs*perProc+wantDeact; n != want {
		t.Errorf("audit log has %d events; want %d", n, want)
	}
}
