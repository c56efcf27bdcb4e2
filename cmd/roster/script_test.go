package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/cli"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/mail/mailtest"
	"github.com/roster-dev/roster/internal/password"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

// raceOptions keep a race-enabled roster process from sleeping a second at
// exit (the race runtime's default) and make a race in it fail it.
const raceOptions = "atexit_sleep_ms=0 halt_on_error=1"

// testHash is the argon2id cost of the roster processes these tests run:
// real argon2id, with little memory and one pass. Under the race detector
// the production profile costs about 190 ms a hash, and the scripts hash
// thousands of times; what they check is behaviour, not cost. The
// production profile is tested by package password and measured by
// make bench, on builds of the real binary.
var testHash = password.Params{Memory: 256, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestMain(m *testing.M) {
	os.Setenv("GORACE", raceOptions)
	password.Default = testHash
	testscript.Main(m, map[string]func(){
		"roster": func() {
			// As main does: SIGTERM and interrupt cancel the command's
			// context (roster serve shuts down gracefully on them).
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			var code int
			if server := os.Getenv("ROSTER_TEST_REMOTE"); server != "" {
				code = remoteMain(ctx, server, os.Args[1:])
			} else {
				code = cli.MainWith(ctx, os.Args[1:], cli.Options{Now: testClock()})
			}
			stop()
			os.Exit(code)
		},
	})
}

// testClock lets a script move time: ROSTER_TEST_NOW=+8d runs roster eight
// days ahead of the wall clock. It exists in the test binary only.
func testClock() func() time.Time { return testClockFrom(os.Getenv("ROSTER_TEST_NOW")) }

func testClockFrom(ahead string) func() time.Time {
	if ahead == "" {
		return time.Now
	}
	d, err := roster.ParseDuration(strings.TrimPrefix(ahead, "+"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "bad ROSTER_TEST_NOW %q: %v\n", ahead, err)
		os.Exit(1)
	}
	return func() time.Time { return time.Now().Add(d) }
}

// TestScripts runs every script in testdata/script against the roster
// binary, each in its own directory with its own store.
// UPDATE_SCRIPTS=1 rewrites the expected output files of failing cmp lines.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		RequireExplicitExec: true,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") != "",
		Setup:               scriptEnv,
		Cmds:                scriptCmds,
		// The local run: [remote] is false.
		Condition: func(string) (bool, error) { return false, nil },
	})
}

// scriptCmds are the harness's own script commands.
var scriptCmds = map[string]func(*testscript.TestScript, bool, []string){
	"exits":     cmdExits,
	"smtpd":     cmdSMTPD,
	"rosterd":   cmdRosterd,
	"mails":     cmdMails,
	"snapshot":  cmdSnapshot,
	"unchanged": cmdUnchanged,
	// oidcscript_test.go
	"mockoidc":   cmdMockOIDC,
	"serve":      cmdServe,
	"oidcsignin": cmdOIDCSignIn,
}

// cmdExits runs "exits CODE COMMAND ARGS...": the command must exit with
// exactly CODE; its stdout and stderr stay for the lines that follow.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// state is what a failed command must leave as it was: every user and the
// whole audit log.
func state(ts *testscript.TestScript) string {
	var b strings.Builder
	for _, args := range [][]string{{"user", "list", "--all", "--kind", "all", "-o", "json"}, {"audit", "list", "--limit", "100000", "-o", "json"}} {
		if err := ts.Exec("roster", args...); err != nil {
			ts.Fatalf("roster %s: %v", strings.Join(args, " "), err)
		}
		b.WriteString(withoutDenials(ts, ts.ReadFile("stdout")))
	}
	return b.String()
}

// withoutDenials is JSON output without the audit events of refusals
// (*.denied): a refused command changed nothing, though it is audited.
func withoutDenials(ts *testscript.TestScript, out string) string {
	var events []map[string]any
	if json.Unmarshal([]byte(out), &events) != nil || len(events) == 0 || events[0]["action"] == nil {
		return out
	}
	kept := events[:0]
	for _, e := range events {
		if a, _ := e["action"].(string); !strings.HasSuffix(a, ".denied") {
			kept = append(kept, e)
		}
	}
	b, err := json.MarshalIndent(kept, "", "  ")
	ts.Check(err)
	return string(b)
}

// cmdSnapshot runs "snapshot FILE": save the store's state to FILE.
func cmdSnapshot(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: snapshot FILE")
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(state(ts)), 0o644))
}

// cmdUnchanged runs "unchanged FILE": the store's state must equal the
// snapshot in FILE.
func cmdUnchanged(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: unchanged FILE")
	}
	if now, before := state(ts), ts.ReadFile(args[0]); now != before {
		ts.Fatalf("the store changed since snapshot %s:\nbefore:\n%s\nnow:\n%s", args[0], before, now)
	}
}

// scriptEnv gives each script its own store, config and data directories.
// $LINKPREFIX is what a link carries between base_url and /invite/ or
// /reset/: nothing in a store of one organisation (DESIGN.md, Pages);
// TestScriptsInOrg sets it to /o/<slug>.
func scriptEnv(e *testscript.Env) error {
	e.Setenv("LINKPREFIX", "")
	e.Setenv("ROSTER_DB", filepath.Join(e.WorkDir, "roster.db"))
	e.Setenv("XDG_CONFIG_HOME", filepath.Join(e.WorkDir, ".config"))
	e.Setenv("XDG_DATA_HOME", filepath.Join(e.WorkDir, ".local", "share"))
	e.Setenv("HOME", e.WorkDir)
	e.Setenv("GORACE", raceOptions)
	return nil
}

// smtpServers holds each script's SMTP server.
var smtpServers sync.Map // *testscript.TestScript -> *mailtest.Server

// cmdSMTPD runs "smtpd": start a real SMTP server on 127.0.0.1 for this
// script, with its port in $SMTP_PORT; it stops when the script ends.
func cmdSMTPD(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: smtpd")
	}
	srv, err := mailtest.StartServer()
	ts.Check(err)
	smtpServers.Store(ts, srv)
	ts.Defer(func() {
		srv.Close()
		smtpServers.Delete(ts)
	})
	ts.Setenv("SMTP_PORT", strconv.Itoa(srv.Port))
}

// cmdMails runs "mails DIR": write every message received so far as
// DIR/N.txt (from 1): envelope recipients, subject, then the decoded body.
func cmdMails(ts *testscript.TestScript, neg bool, args []string) {
	v, ok := smtpServers.Load(ts)
	if neg || len(args) != 1 || !ok {
		ts.Fatalf("usage: mails DIR, after smtpd")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	for i, m := range v.(*mailtest.Server).Messages() {
		text := fmt.Sprintf("To: %s\nFrom: %s\nSubject: %s\n\n%s", strings.Join(m.To, ", "), m.From, m.Subject, m.Body)
		ts.Check(os.WriteFile(filepath.Join(dir, strconv.Itoa(i+1)+".txt"), []byte(text), 0o644))
	}
}

// cmdRosterd runs "rosterd": serve the script's store ($ROSTER_DB, made
// by roster init) with the real API on 127.0.0.1, its address in $SERVER,
// until the script ends. Scripts then run roster --server $SERVER.
func cmdRosterd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: rosterd")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var db store.Store
	var err error
	if dsn := ts.Getenv("ROSTER_DB"); store.IsURL(dsn) {
		db, err = postgres.Open(ctx, dsn)
	} else {
		db, err = sqlite.Open(ctx, dsn)
	}
	ts.Check(err)
	srv := httptest.NewServer(api.New(core.New(db, core.WithServer(""), core.WithClock(testClockFrom(ts.Getenv("ROSTER_TEST_NOW")))), api.Options{}))
	ts.Defer(func() {
		srv.Close()
		cancel()
		db.Close()
	})
	ts.Setenv("SERVER", srv.URL)
}
