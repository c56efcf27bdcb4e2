package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/roster-dev/roster/internal/contract"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

// inOrgSkips are the scripts TestScriptsInOrg does not run, each with why:
// their subject is the store itself or the system organisation, or they
// hold what only a fresh one-organisation store shows (ids counted from 1).
var inOrgSkips = map[string]string{
	"version":                 "checks no store is made; here the harness made one",
	"serve_flags":             "checks a refused serve makes no store; here the harness made one",
	"completion_scripts":      "checks completion makes no store; here the harness made one",
	"cli_init_token_file":     "checks a refused init makes no store; here the harness made one",
	"init":                    "the store file: commands refusing to invent one, init of a new store",
	"db_migrate_check_backup": "migrate, check and backup act on the whole store",
	"audit_stream":            "expects the store's first event, store.init, which only the system organisation's log holds",
	"org":                     "organisations themselves, managed from the system organisation",
	"org_login":               "organisations themselves, managed from the system organisation",
	"org_export_apply":        "organisations themselves, managed from the system organisation",
	"token":                   "names tokens by the ids a fresh store gives (1, 2, …); ids are the store's",
	"remote":                  "expects a fresh store's first token id (token:1)",
	"audit_list":              "its golden holds audit ids counted from a fresh store's 1",
	"serve_mail_password":     "greps the server log for /api/v1/invitations; in an organisation the CLI calls /api/v1/orgs/acme/…",
}

// The organisations of TestScriptsInOrg: the scripts', and its neighbour.
const (
	scriptOrg    = "acme"
	neighbourOrg = "noise"
)

// TestScriptsInOrg runs every script inside organisation acme (ROSTER_ORG)
// of a store that already holds the system organisation, with its own
// owner, and a noisy neighbour holding the emails, usernames, links, role,
// permission and project names the scripts use. roster init in a script
// makes acme. Were a wall missing (R21), a script would trip on the
// neighbour's things; after each, the neighbour must be exactly as it was.
func TestScriptsInOrg(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "script")
	for name := range inOrgSkips {
		if _, err := os.Stat(filepath.Join(dir, name+".txtar")); err != nil {
			t.Errorf("inOrgSkips names %s: %v", name, err)
		}
	}
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			name := strings.TrimPrefix(filepath.Base(e.WorkDir), "script-")
			if why, ok := inOrgSkips[name]; ok {
				e.T().Skip("in an organisation: " + why)
			}
			if err := scriptEnv(e); err != nil {
				return err
			}
			path := e.Getenv("ROSTER_DB")
			before, err := withStore(path, func(c *core.Core) ([]byte, error) {
				if err := fillScriptNeighbour(c); err != nil {
					return nil, err
				}
				return contract.State(c.As(core.Actor{Name: "local:test", Org: neighbourOrg}))
			})
			if err != nil {
				return err
			}
			e.Setenv("ROSTER_ORG", scriptOrg)
			// Links of a store with several organisations name theirs.
			e.Setenv("LINKPREFIX", "/o/"+scriptOrg)
			e.Defer(func() {
				after, err := withStore(path, func(c *core.Core) ([]byte, error) {
					return contract.State(c.As(core.Actor{Name: "local:test", Org: neighbourOrg}))
				})
				if err != nil {
					e.T().Fatal(err)
				}
				if !bytes.Equal(before, after) {
					e.T().Fatal(fmt.Sprintf("R21: organisation %s changed:\n%s", neighbourOrg, diff.Diff("before", before, "after", after)))
				}
			})
			return nil
		},
		Cmds: scriptCmds,
		// The local run: [remote] is false.
		Condition: func(string) (bool, error) { return false, nil },
	})
}

// withStore runs fn on a core over the SQLite store at path, closed after.
func withStore(path string, fn func(*core.Core) ([]byte, error)) ([]byte, error) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	out, err := fn(core.New(db))
	return out, errors.Join(err, db.Close())
}

// fillScriptNeighbour initialises the store (the system organisation's
// owner is root@) and makes the neighbour, whose owner is the scripts'
// owner@, holding what the scripts name.
func fillScriptNeighbour(c *core.Core) error {
	ctx := context.Background()
	sys := c.As(core.Actor{Name: "local:test"})
	const pw = "Neighbour-Basalt-Quill-7781"
	if _, err := sys.Init(ctx, roster.InitParams{OwnerEmail: "root@example.com", Password: pw}); err != nil {
		return err
	}
	if _, err := sys.CreateOrg(ctx, roster.CreateOrg{Slug: neighbourOrg, OwnerEmail: "owner@example.com", Password: pw}); err != nil {
		return err
	}
	n := c.As(core.Actor{Name: "local:test", Org: neighbourOrg})
	var errs []error
	try := func(_ any, err error) { errs = append(errs, err) }
	for _, perm := range []string{"invoices.view", "clients.view", "clients.create"} {
		try(n.CreatePermission(ctx, roster.CreatePermission{Name: perm}))
	}
	for _, role := range []string{"support", "helpdesk", "auditor", "recruiter", "client-viewer"} {
		try(n.CreateRole(ctx, roster.CreateRole{Name: role, Permissions: []string{"invoices.view", roster.PermUsersView}}))
	}
	projects := []string{"billing", "alpha", "beta", "web", "gamma", "apollo"}
	for _, slug := range projects {
		try(n.CreateProject(ctx, roster.CreateProject{Slug: slug}))
	}
	for _, name := range []string{"ann", "bob", "alice", "adam", "mel", "mia", "nobody", "carol", "dave", "erin", "mona", "helen", "admin"} {
		email := name + "@example.com"
		try(n.CreateUser(ctx, roster.CreateUser{Email: email, Username: name, Roles: []string{"support", roster.RoleAdmin},
			Projects: projects, Links: map[string]string{"github": name + "-gh", "employee": name}, Password: pw}))
		try(n.CreateToken(ctx, roster.CreateToken{User: email, Name: "neighbour"}))
	}
	for _, email := range []string{"ivy@example.com", "frank@example.com", "vic@example.com"} {
		try(n.CreateInvitation(ctx, roster.CreateInvitation{Email: email, Roles: []string{"helpdesk"}}))
	}
	try(n.SetSetting(ctx, "seats", "20"))
	try(n.SetSetting(ctx, "password.min_length", "12"))
	return errors.Join(errs...)
}
