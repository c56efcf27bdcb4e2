package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/roster-dev/roster/internal/roster"
)

// completion is what cobra's __complete offered: the candidates without
// their descriptions, and whether the shell may add file names.
type completion struct {
	items []string
	files bool
}

func complete(t *testing.T, db, config string, line ...string) completion {
	t.Helper()
	var out, errOut bytes.Buffer
	io := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	args := append([]string{"--db", db, "--config", config, "__complete"}, line...)
	if code := run(context.Background(), io, args, Options{}); code != 0 {
		t.Fatalf("__complete %q: exit %d\n%s", line, code, errOut.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	directive, err := strconv.Atoi(strings.TrimPrefix(last, ":"))
	if !strings.HasPrefix(last, ":") || err != nil {
		t.Fatalf("__complete %q: no directive in\n%s", line, out.String())
	}
	c := completion{files: cobra.ShellCompDirective(directive)&cobra.ShellCompDirectiveNoFileComp == 0}
	for _, l := range lines[:len(lines)-1] {
		name, _, _ := strings.Cut(l, "\t")
		c.items = append(c.items, name)
	}
	slices.Sort(c.items)
	return c
}

// completionStore makes a store holding something of every kind in every
// state a completion tells apart, and a config file with one context.
func completionStore(t *testing.T) (db, config string, tokens []string) {
	t.Helper()
	dir := t.TempDir()
	db, config = filepath.Join(dir, "roster.db"), filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte("contexts:\n  prod:\n    server: https://roster.example.com\n    token: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, db, "init", "--owner-email", "owner@example.com", "--random-password")
	mustRun(t, db, "user", "create", "alice@example.com", "--no-password")
	mustRun(t, db, "user", "create", "bob@example.com", "--no-password", "--role", "viewer")
	mustRun(t, db, "user", "create", "dave@example.com", "--no-password")
	mustRun(t, db, "user", "deactivate", "dave@example.com")
	mustRun(t, db, "service-account", "create", "ci-bot")
	mustRun(t, db, "service-account", "create", "old-bot")
	mustRun(t, db, "service-account", "deactivate", "old-bot")
	mustRun(t, db, "invite", "create", "ivy@example.com", "rex@example.com")
	mustRun(t, db, "invite", "revoke", "rex@example.com")
	mustRun(t, db, "permission", "create", "app.view")
	mustRun(t, db, "role", "create", "support", "--permission", "app.view")
	mustRun(t, db, "role", "assign", "support", "bob@example.com")
	mustRun(t, db, "project", "create", "billing")
	mustRun(t, db, "project", "create", "old")
	mustRun(t, db, "project", "archive", "old")
	mustRun(t, db, "project", "member", "add", "billing", "alice@example.com")
	mustRun(t, db, "org", "create", "acme", "--owner-email", "ann@acme.example")
	mustRun(t, db, "org", "create", "gone", "--owner-email", "gil@gone.example")
	mustRun(t, db, "org", "suspend", "gone")
	for _, name := range []string{"live", "dead"} {
		mustRun(t, db, "token", "create", "--user", "owner@example.com", "--name", name)
	}
	var ts []roster.APIToken
	if err := json.Unmarshal([]byte(mustRun(t, db, "token", "list", "-o", "json")), &ts); err != nil {
		t.Fatal(err)
	}
	for _, tok := range ts {
		if tok.Name == "dead" {
			mustRun(t, db, "token", "revoke", strconv.FormatInt(tok.ID, 10))
		} else {
			tokens = append(tokens, strconv.FormatInt(tok.ID, 10))
		}
	}
	return db, config, tokens
}

// completionCase is what one argument position or flag of a command must
// offer: exactly want, and file names only with files.
type completionCase struct {
	cmd   string   // the command's path under roster
	flag  string   // the flag completed, or "" for the argument after args
	args  []string // the arguments before the one completed
	want  []string
	files bool
}

// TestCompletion asks cobra's __complete, as a shell does, for every
// argument and flag value of every command, and checks that each offers
// only what the command accepts there. Those that offer something are in
// the table; every other one must offer nothing, not even file names,
// unless it names a file.
func TestCompletion(t *testing.T) {
	db, config, liveTokens := completionStore(t)
	var (
		people     = []string{"alice@example.com", "bob@example.com", "dave@example.com", "ivy@example.com", "owner@example.com", "rex@example.com"}
		everyone   = append([]string{"ci-bot", "old-bot"}, people...)
		active     = []string{"alice@example.com", "bob@example.com", "ci-bot", "owner@example.com"}
		roles      = []string{"admin", "developer", "manager", "member", "owner", "support", "viewer"}
		projects   = []string{"billing", "old"}
		contexts   = []string{"prod"}
		servers    = []string{"https://roster.example.com"}
		allPerms   = strings.Fields(mustRun(t, db, "permission", "list", "-o", "name"))
		settings   []string
		shells     = []string{"bash", "fish", "powershell", "zsh"}
		orgs       = []string{"acme", "default", "gone"}
		actions, _ = completeActions(nil, nil, "")
	)
	for _, s := range roster.SettingSpecs {
		settings = append(settings, s.Key)
	}
	without := func(all []string, drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(s string) bool { return slices.Contains(drop, s) })
	}
	cases := []completionCase{
		{cmd: "user show", want: everyone},
		{cmd: "user update", want: everyone},
		{cmd: "user set-password", want: people},
		{cmd: "user reset-link", want: people},
		{cmd: "service-account show", want: []string{"ci-bot", "old-bot"}},
		{cmd: "service-account deactivate", want: []string{"ci-bot"}},
		{cmd: "service-account delete", want: []string{"ci-bot", "old-bot"}},
		{cmd: "user set-role", want: everyone},
		{cmd: "user set-role", args: []string{"alice@example.com"}, want: roles},
		{cmd: "user set-role", args: []string{"alice@example.com", "admin"}, want: without(roles, "admin")},
		{cmd: "user set-projects", want: everyone},
		{cmd: "user set-projects", args: []string{"alice@example.com"}, want: projects},
		{cmd: "user deactivate", want: without(everyone, "dave@example.com", "old-bot")},
		{cmd: "user deactivate", args: []string{"alice@example.com"}, want: without(everyone, "dave@example.com", "old-bot", "alice@example.com")},
		{cmd: "user reactivate", want: []string{"dave@example.com", "old-bot"}},
		{cmd: "user set-expiry", want: everyone},
		{cmd: "user set-expiry", args: []string{"alice@example.com"}, want: []string{"30d", "90d", "never"}},
		{cmd: "user delete", want: everyone},
		{cmd: "user delete", args: []string{"ivy@example.com"}, want: without(everyone, "ivy@example.com")},
		{cmd: "invite resend", want: []string{"ivy@example.com", "rex@example.com"}},
		{cmd: "invite revoke", want: []string{"ivy@example.com"}},
		{cmd: "role show", want: roles},
		{cmd: "role update", want: []string{"support"}},
		{cmd: "role delete", want: []string{"support"}},
		{cmd: "role assign", want: roles},
		{cmd: "role assign", args: []string{"support"}, want: without(everyone, "bob@example.com")},
		{cmd: "role unassign", want: roles},
		{cmd: "role unassign", args: []string{"support"}, want: []string{"bob@example.com"}},
		{cmd: "permission delete", want: []string{"app.view"}},
		{cmd: "can", want: everyone},
		{cmd: "can", args: []string{"alice@example.com"}, want: allPerms},
		{cmd: "project show", want: projects},
		{cmd: "project update", want: projects},
		{cmd: "project delete", want: projects},
		{cmd: "project archive", want: []string{"billing"}},
		{cmd: "project unarchive", want: []string{"old"}},
		{cmd: "project member list", want: projects},
		{cmd: "project member add", want: []string{"billing"}},
		{cmd: "project member add", args: []string{"billing"}, want: without(everyone, "alice@example.com")},
		{cmd: "project member remove", want: projects},
		{cmd: "project member remove", args: []string{"billing"}, want: []string{"alice@example.com"}},
		{cmd: "token revoke", want: liveTokens},
		{cmd: "token rotate", want: liveTokens},
		{cmd: "context use", want: contexts},
		{cmd: "context delete", want: contexts},
		{cmd: "login", want: servers},
		{cmd: "settings set", want: settings},
		{cmd: "completion", want: shells},
		{cmd: "org show", want: orgs},
		{cmd: "org rename", want: orgs},
		{cmd: "org suspend", want: []string{"acme"}},
		{cmd: "org resume", want: []string{"gone"}},
		{cmd: "org delete", want: []string{"acme", "gone"}},
		// --org completes the users of the organisation it names.
		{cmd: "--org acme user show", want: []string{"ann@acme.example"}},
		{cmd: "org create", want: []string{"--owner-email"}},
		{cmd: "org create", args: []string{"x"}, want: []string{"--owner-email"}},
		// A required flag is offered until it is given.
		{cmd: "role create", want: []string{"--permission"}},
		{cmd: "role create", args: []string{"x"}, want: []string{"--permission"}},
		{cmd: "import", files: true},
		{cmd: "db backup", files: true},

		{cmd: "", flag: "output", want: []string{"csv", "json", "name", "table", "tsv", "yaml"}},
		{cmd: "", flag: "as", want: active},
		{cmd: "", flag: "context", want: contexts},
		{cmd: "", flag: "server", want: servers},
		{cmd: "", flag: "org", want: orgs},
		{cmd: "user list", flag: "status", want: []string{"active", "deactivated", "expired", "invited"}},
		{cmd: "user list", flag: "role", want: roles},
		{cmd: "user list", flag: "project", want: projects},
		{cmd: "user list", flag: "kind", want: []string{"all", "person", "service"}},
		{cmd: "service-account create", flag: "role", want: roles},
		{cmd: "service-account create", flag: "project", want: projects},
		{cmd: "service-account list", flag: "role", want: roles},
		{cmd: "service-account list", flag: "status", want: []string{"active", "deactivated", "expired"}},
		{cmd: "user create", flag: "role", want: roles},
		{cmd: "user create", flag: "project", want: projects},
		{cmd: "invite create", flag: "role", want: roles},
		{cmd: "invite create", flag: "project", want: projects},
		{cmd: "invite list", flag: "status", want: []string{"accepted", "expired", "pending", "revoked"}},
		{cmd: "role create", flag: "permission", want: allPerms},
		{cmd: "role update", flag: "add-permission", want: allPerms},
		{cmd: "role update", flag: "remove-permission", want: allPerms},
		{cmd: "role delete", flag: "reassign", want: roles},
		{cmd: "permission create", flag: "implies", want: allPerms},
		{cmd: "can", flag: "project", want: projects},
		{cmd: "audit list", flag: "actor", want: everyone},
		{cmd: "audit list", flag: "target", want: everyone},
		{cmd: "audit list", flag: "action", want: actions},
		{cmd: "token create", flag: "user", want: active},
		{cmd: "token list", flag: "user", want: everyone},
		{cmd: "logout", flag: "context", want: contexts},
		{cmd: "import", flag: "format", want: []string{"csv", "jsonl"}},
		{cmd: "export", flag: "output", want: []string{"csv", "jsonl", "yaml"}},
		{cmd: "audit export", flag: "output", want: []string{"csv", "jsonl"}},
		{cmd: "audit tail", flag: "output", want: []string{"jsonl", "text"}},
	}
	for _, flag := range fileFlags {
		cases = append(cases, completionCase{flag: flag, files: true}) // wherever it is
	}

	check := func(c completionCase, line []string) {
		t.Helper()
		got := complete(t, db, config, line...)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(got.items, want) || got.files != c.files {
			t.Errorf("roster %s<TAB>:\n got %q (files %v)\nwant %q (files %v)", strings.Join(line[:len(line)-1], " ")+" ", got.items, got.files, want, c.files)
		}
	}
	lineOf := func(c completionCase) []string {
		line := strings.Fields(c.cmd)
		if c.flag != "" {
			return append(line, "--"+c.flag, "")
		}
		return append(append(line, c.args...), "")
	}
	for _, c := range cases {
		if c.cmd != "" || c.flag == "" || !slices.Contains(fileFlags, c.flag) {
			check(c, lineOf(c))
		}
	}

	// Every other argument position and flag value offers nothing. A
	// command with subcommands offers their names.
	listed := func(cmd, flag string, nargs int) (completionCase, bool) {
		for _, c := range cases {
			if c.flag == flag && flag != "" && (c.cmd == cmd || slices.Contains(fileFlags, flag)) {
				return c, true
			}
			if flag == "" && c.flag == "" && c.cmd == cmd && len(c.args) == nargs {
				return c, true
			}
		}
		return completionCase{}, false
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		path := strings.TrimSpace(strings.TrimPrefix(c.CommandPath(), "roster"))
		var subs []string
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				subs = append(subs, sub.Name())
			}
			walk(sub)
		}
		// The positions: one per argument in Use, and one more, unless
		// the last repeats (USER...): the table checks those.
		words, repeats := 0, false
		use := strings.Fields(c.Use)[1:]
		for i := 0; i < len(use); i++ {
			if strings.HasPrefix(use[i], "-") {
				i++ // the flag's value
				continue
			}
			words++
			repeats = strings.HasSuffix(use[i], "...") || strings.HasSuffix(use[i], "...]")
		}
		if repeats {
			words--
		}
		for n := 0; n <= words; n++ {
			args := slices.Repeat([]string{"x"}, n)
			if _, ok := listed(path, "", n); ok {
				continue
			}
			want := completionCase{cmd: path, args: args}
			if n == 0 && len(subs) > 0 && path != "completion" {
				want.want = subs
			}
			check(want, lineOf(want))
		}
		fs := c.LocalNonPersistentFlags()
		if !c.HasParent() {
			fs = c.PersistentFlags()
		}
		fs.VisitAll(func(fl *pflag.Flag) {
			if fl.NoOptDefVal != "" {
				return // a bool takes no value
			}
			want, ok := listed(path, fl.Name, 0)
			if !ok {
				want = completionCase{cmd: path, flag: fl.Name}
			}
			want.cmd = path
			check(want, lineOf(want))
		})
	}
	walk(NewRootCommand())
}

// TestAuditActions: --action completes exactly the actions the core
// writes to the audit log, read from its source.
func TestAuditActions(t *testing.T) {
	files, err := filepath.Glob("../core/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("core sources: %v", err)
	}
	literals := map[string]bool{} // every dotted string literal in the core
	var written []string          // those passed to audit or event
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING {
					literals[s] = true
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "audit" && sel.Sel.Name != "event") || len(n.Args) == 0 {
					return true
				}
				if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					written = append(written, s)
				}
			}
			return true
		})
	}
	if len(written) < 10 {
		t.Fatalf("found %d audit calls in the core; has it changed shape?", len(written))
	}
	for _, a := range written {
		if !slices.Contains(auditActions, a) {
			t.Errorf("the core writes %q, which audit list --action does not complete", a)
		}
	}
	for _, a := range auditActions {
		if !literals[a] {
			t.Errorf("audit list --action completes %q, which the core never writes", a)
		}
	}
}
