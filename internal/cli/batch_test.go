package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

// stopAfter is the real service with a hook run around its nth
// DeactivateUser call: before it, or after it returned.
type stopAfter struct {
	roster.Service
	n, calls int
	before   bool
	hook     func()
}

func (s *stopAfter) DeactivateUser(ctx context.Context, ref, reason string) (roster.UserResult, error) {
	s.calls++
	if s.calls == s.n && s.before {
		s.hook()
	}
	res, err := s.Service.DeactivateUser(ctx, ref, reason)
	if s.calls == s.n && !s.before {
		s.hook()
	}
	return res, err
}

// runCtx runs the command line in-process with ctx and options.
func runCtx(ctx context.Context, o Options, args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	io := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	code := run(ctx, io, args, o)
	return out.String(), errOut.String(), code
}

// batchStore makes a store with an owner, its API token in a file, and
// ten users to act on.
func batchStore(t *testing.T) (db, tokenFile string, users []string) {
	t.Helper()
	dir := t.TempDir()
	db, tokenFile = filepath.Join(dir, "roster.db"), filepath.Join(dir, "owner.tok")
	mustRun(t, db, "init", "--owner-email", "owner@example.com", "--random-password", "--token-file", tokenFile)
	for i := range 10 {
		u := fmt.Sprintf("u%02d@example.com", i)
		mustRun(t, db, "user", "create", u, "--no-password")
		users = append(users, u)
	}
	return db, tokenFile, users
}

// TestBatchStops: a batch stops at the first interruption or unavailable
// server, with one line saying how far it got, instead of one error per
// remaining target; the exit code is that of the stop (issue 8, low).
func TestBatchStops(t *testing.T) {
	tests := []struct {
		name   string
		remote bool
		before bool // the hook runs before the 4th call instead of after it
		stop   string
		code   int
		done   int
	}{
		{"local, interrupted between calls", false, false, "cancel", ExitError, 4},
		{"local, interrupted in a call", false, true, "cancel", ExitError, 3},
		{"remote, interrupted between calls", true, false, "cancel", ExitError, 4},
		{"remote, interrupted in a call", true, true, "cancel", ExitError, 3},
		{"remote, server gone", true, false, "shutdown", ExitUnavailable, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no saved context of the machine's
			db, tokenFile, users := batchStore(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			args := []string{"--db", db}
			var srv *httptest.Server
			if tt.remote {
				store, err := sqlite.Open(context.Background(), db)
				if err != nil {
					t.Fatal(err)
				}
				defer store.Close()
				srv = httptest.NewServer(api.New(core.New(store), api.Options{}))
				defer srv.Close()
				args = []string{"--server", srv.URL, "--token-file", tokenFile}
			}
			hook := cancel
			if tt.stop == "shutdown" {
				hook = func() { srv.Close() }
			}
			o := Options{wrap: func(svc roster.Service) roster.Service {
				return &stopAfter{Service: svc, n: 4, before: tt.before, hook: hook}
			}}
			args = append(append(args, "user", "deactivate", "-q", "-o", "name"), users...)
			out, errOut, code := runCtx(ctx, o, args...)
			if code != tt.code {
				t.Errorf("exit %d; want %d\n%s", code, tt.code, errOut)
			}
			word := "interrupted"
			if tt.stop == "shutdown" {
				word = "stopped"
			}
			want := fmt.Sprintf("roster: %s after %d of 10; %d not done\n", word, tt.done, 10-tt.done)
			if !strings.HasSuffix(errOut, want) {
				t.Errorf("stderr does not end in %q:\n%s", want, errOut)
			}
			if n := strings.Count(errOut, "roster: "); n > 3 {
				t.Errorf("%d lines on stderr; want the stop, and at most an error and its hint:\n%s", n, errOut)
			}
			if strings.Contains(errOut, "context canceled") {
				t.Errorf("stderr reports the cancellation per target:\n%s", errOut)
			}
			// stdout names the users done: the first ones, in order.
			if got, want := out, strings.Join(users[:tt.done], "\n")+"\n"; got != want {
				t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
			}
			// The store agrees: only those were deactivated.
			deactivated := mustRun(t, db, "user", "list", "--status", "deactivated", "-o", "name")
			if want := strings.Join(users[:tt.done], "\n") + "\n"; deactivated != want {
				t.Errorf("deactivated:\n%s\nwant:\n%s", deactivated, want)
			}
		})
	}
}
