package main

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/cli"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/store/sqlite"
	"github.com/roster-dev/roster/internal/token"
)

// TestScriptsRemote runs every script again in remote mode: each script's
// store is served by a real API server on 127.0.0.1, and every roster
// command that can act remotely does so through it, signed in with a
// token. A script whose behaviour must differ says why with
// "[remote] skip".
func TestScriptsRemote(t *testing.T) {
	if testing.Short() {
		t.Skip("the remote run of the scripts is long")
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			if err := scriptEnv(e); err != nil {
				return err
			}
			db, err := sqlite.Open(context.Background(), filepath.Join(e.WorkDir, "roster.db"))
			if err != nil {
				return err
			}
			clockFile := filepath.Join(e.WorkDir, ".test-now")
			c := core.New(db, core.WithServer(""), core.WithClock(func() time.Time {
				b, _ := os.ReadFile(clockFile)
				return testClockFrom(strings.TrimSpace(string(b)))()
			}))
			// The limiter is package api's to test; scripts fail on purpose.
			srv := httptest.NewServer(api.New(c, api.Options{FailureRate: 1e9}))
			e.Defer(func() {
				srv.Close()
				db.Close()
			})
			e.Setenv("ROSTER_TEST_REMOTE", srv.URL)
			return nil
		},
		Cmds: scriptCmds,
		Condition: func(cond string) (bool, error) {
			return cond == "remote", nil
		},
	})
}

// localOnly are the commands that act on the store's host, or on the
// client's own config, and so run locally in remote mode too.
var localOnly = []string{"init", "db", "serve", "completion", "__complete", "version", "login", "logout", "context"}

// remoteMain is the roster command of the remote run: it points roster at
// the script's server with a token of the acting user (--as, or else the
// first owner, who stands in for the local administrator). With --org (or
// ROSTER_ORG) --as names a user of that organisation, as it does locally;
// the first owner, a system administrator, acts in it as it says.
func remoteMain(ctx context.Context, server string, args []string) int {
	if cmd := firstCommand(args); cmd == "" || slices.Contains(localOnly, cmd) {
		return cli.MainWith(ctx, args, cli.Options{Now: testClock()})
	}
	// The server's clock follows the script's ROSTER_TEST_NOW.
	_ = os.WriteFile(filepath.Join(os.Getenv("WORK"), ".test-now"), []byte(os.Getenv("ROSTER_TEST_NOW")), 0o644)
	as, args := cutAs(args)
	os.Setenv("ROSTER_SERVER", server)
	if os.Getenv("ROSTER_TOKEN") == "" && os.Getenv("ROSTER_TOKEN_FILE") == "" && !slices.Contains(args, "--token-file") {
		os.Setenv("ROSTER_TOKEN", signIn(os.Getenv("ROSTER_DB"), as, orgOf(args)))
	}
	return cli.MainWith(ctx, args, cli.Options{Now: testClock()})
}

// firstCommand is the first argument that is not a flag or a flag's value.
func firstCommand(args []string) string {
	valued := []string{"--db", "--config", "-o", "--output", "--as", "--server", "--token-file", "--context", "--org"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case slices.Contains(valued, a):
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return ""
}

// cutAs removes --as USER from args and returns USER.
func cutAs(args []string) (string, []string) {
	var out []string
	as := ""
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--as" && i+1 < len(args):
			as = args[i+1]
			i++
		case strings.HasPrefix(args[i], "--as="):
			as = strings.TrimPrefix(args[i], "--as=")
		default:
			out = append(out, args[i])
		}
	}
	return as, out
}

// orgOf is the organisation args (or ROSTER_ORG) act in; "" is the
// system organisation.
func orgOf(args []string) string {
	org := os.Getenv("ROSTER_ORG")
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--org" && i+1 < len(args):
			org = args[i+1]
		case strings.HasPrefix(args[i], "--org="):
			org = strings.TrimPrefix(args[i], "--org=")
		}
	}
	return org
}

// signIn returns a token acting as user (an email, username or id; ""
// means the first owner of the system organisation) of the organisation
// org ("" the system organisation), written straight into the store so
// that signing in leaves no audit event: the scripts' audit expectations
// are about their own commands. A user who cannot act gets a token no
// one has.
func signIn(dbPath, user, org string) string {
	db, err := sql.Open("sqlite", sqlite.DSN(dbPath))
	if err != nil {
		return "roster_pat_unusable"
	}
	defer db.Close()
	// The system organisation is the first, whatever its slug; the first
	// owner is always its own.
	orgID, orgArgs := `(SELECT min(id) FROM orgs)`, []any(nil)
	if org != "" && user != "" {
		orgID, orgArgs = `(SELECT id FROM orgs WHERE slug = ?)`, []any{org}
	}
	q := `SELECT id FROM users WHERE status = 'active' AND (email_key = lower(?) OR username_key = lower(?) OR CAST(id AS TEXT) = ?) AND org_id = ` + orgID
	args := append([]any{user, user, user}, orgArgs...)
	if user == "" {
		q = `SELECT user_id FROM user_roles JOIN users ON users.id = user_id WHERE role = 'owner' AND status = 'active' AND users.org_id = ` + orgID + ` ORDER BY user_id LIMIT 1`
		args = orgArgs
	}
	var id int64
	if err := db.QueryRow(q, args...).Scan(&id); err != nil {
		return "roster_pat_unusable"
	}
	tok, hash := token.New(token.API)
	now := time.Now().UnixMicro()
	_, err = db.Exec(`INSERT INTO api_tokens (user_id, name, token_hash, creator, created_at, expires_at)
		VALUES (?, 'test harness', ?, 'test', ?, ?)`, id, hash[:], now, now+int64(10*365*24*time.Hour/time.Microsecond))
	if err != nil {
		return "roster_pat_unusable"
	}
	return tok
}
