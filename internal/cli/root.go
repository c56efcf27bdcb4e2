// Package cli is roster's command tree: cobra commands that parse flags
// into options and call roster.Service, and the printing of results.
package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/roster-dev/roster/internal/roster"
)

// Version is set at build time with -ldflags "-X .../cli.Version=v1.2.3".
var Version = "dev"

// Main runs roster with args and returns the exit code.
func Main(ctx context.Context, args []string) int {
	return MainWith(ctx, args, Options{})
}

// Options are what tests may replace.
type Options struct {
	// Now is the clock; nil means time.Now. Tests of expiry set it.
	Now func() time.Time

	// wrap, when set, wraps the Service every command uses: tests of
	// interruptions cancel the context from inside a batch with it.
	wrap func(roster.Service) roster.Service
}

// MainWith runs roster with options.
func MainWith(ctx context.Context, args []string, o Options) int {
	return run(ctx, SystemIO(), args, o)
}

func run(ctx context.Context, io *IOStreams, args []string, o Options) int {
	root, f := newRoot(io)
	if o.Now != nil {
		f.now = o.Now
	}
	f.wrap = o.wrap
	defer f.Close()
	// Completions matter only to a shell asking for them (cobra finds
	// its __complete after global flags too): set on every command and
	// flag of the tree, they took a tenth of roster --help.
	if slices.ContainsFunc(args, func(a string) bool {
		return a == cobra.ShellCompRequestCmd || a == cobra.ShellCompNoDescRequestCmd
	}) {
		completeTheRest(root)
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && !f.started {
		// cobra failed before running the command: an unknown command, a
		// missing required flag, flags that exclude each other.
		var ue *usageError
		if !errors.As(err, &ue) {
			err = usagef("%s", err)
		}
	}
	if err != nil {
		// Once interrupted, whatever failed failed because of it; through a
		// server that is an unreachable server, not a cancelled context.
		var silent *silentError
		var stopped *batchStopped
		if ctx.Err() != nil && !errors.As(err, &silent) && !errors.As(err, &stopped) {
			fmt.Fprintln(io.ErrOut, "roster: interrupted")
			return ExitError
		}
		printError(io.ErrOut, err, cmd.CommandPath(), f.errorsAsJSON(args))
	}
	return ExitCode(err)
}

// errorsAsJSON reports whether the error ending a run goes to stderr as
// JSON. A flag error stops parsing short of a later -o json, so until the
// command started, an -o on the command line decides; then -o as resolved
// from the flags, the environment and the config file.
func (f *Factory) errorsAsJSON(args []string) bool {
	if !f.started {
		if asJSON, given := outputInArgs(args); given {
			return asJSON
		}
	}
	return f.jsonErrors()
}

// outputInArgs finds -o or --output among the flags of a command line,
// and reports whether it asks for json.
func outputInArgs(args []string) (asJSON, given bool) {
	format := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			i = len(args)
		case a == "-o" || a == "--output":
			if i+1 < len(args) {
				format, given = args[i+1], true
				i++
			}
		case strings.HasPrefix(a, "--output="):
			format, given = strings.TrimPrefix(a, "--output="), true
		case strings.HasPrefix(a, "-o") && !strings.HasPrefix(a, "--"):
			format, given = strings.TrimPrefix(strings.TrimPrefix(a, "-o"), "="), true
		}
	}
	return format == "json", given
}

// NewRootCommand builds the command tree, for generating docs.
func NewRootCommand() *cobra.Command {
	root, _ := newRoot(SystemIO())
	return root
}

func newRoot(io *IOStreams) (*cobra.Command, *Factory) {
	root := &cobra.Command{
		Use:   "roster",
		Short: "Manage who may use your software: users, roles, permissions and audit",
		Long: `roster manages users, roles and permission flags, deactivation, passwords
and an audit log, in a local SQLite store.

With no --db the store is $XDG_DATA_HOME/roster/roster.db
(~/.local/share/roster/roster.db). Start with roster init.

Every global flag can also be set in the environment, its name in capitals
after ROSTER_ (ROSTER_DB, ROSTER_OUTPUT, ROSTER_AS, …), or as a key of the config file
$XDG_CONFIG_HOME/roster/config.yaml; a flag beats the environment, which
beats the file.

Local or remote: --db (ROSTER_DB, db: in the file) names a local store;
--server or --context (ROSTER_SERVER, ROSTER_CONTEXT, server: or the
current context saved by roster login) a server. The more specific source
decides: a flag beats the environment, which beats the file, so an explicit
--db or ROSTER_DB acts on the local store even when a context is saved.
Named at the same level, the server wins; --db with --server or --context
on one command line is a usage error.

Organisations: a store may hold several. --org SLUG (ROSTER_ORG, org: in
the file or in a saved context) acts in that one; without it a command
acts in your own: the token's user's, or locally the system organisation.

` + exitCodesHelp,
		Example: `  roster init --owner-email admin@example.com --random-password
  roster user list --status active -o json
  roster user lst   # a mistyped command is refused, with what it may have meant`,
		Version:           Version,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
		// A word that is no command is a mistake, not a request for help.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetVersionTemplate("roster {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.String("db", "", "SQLite store `path` (default $XDG_DATA_HOME/roster/roster.db)")
	pf.String("config", "", "config `file` (default $XDG_CONFIG_HOME/roster/config.yaml)")
	pf.StringP("output", "o", "", "output `format`: table, tsv, json, yaml, csv or name (default table on a terminal, tsv otherwise)")
	pf.String("as", "", "act as `USER`, with that user's permissions and rules (local mode)")
	pf.String("server", "", "act on the roster server at `URL` (remote mode)")
	pf.String("token-file", "", "read the API token for the server from `file` (or set ROSTER_TOKEN)")
	pf.String("context", "", "use the saved server and token `NAME` (see roster context)")
	pf.String("org", "", "act in the organisation `SLUG` (default: your own; see roster org)")
	pf.Bool("insecure", false, "allow sending a token over plain http to a host that is not this machine")
	pf.BoolP("yes", "y", false, "answer yes to confirmations")
	pf.BoolP("quiet", "q", false, "print no messages, only results and errors")
	f := newFactory(io, pf)
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		// cobra checks these after this hook; checking them first makes
		// their failures usage errors (exit 2) like every other flag error.
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return usagef("%s", err)
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return usagef("%s", err)
		}
		f.started = true
		return nil
	}

	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	root.SetFlagErrorFunc(flagError)
	_ = root.RegisterFlagCompletionFunc("output", fixedCompletion("table", "tsv", "json", "yaml", "csv", "name"))
	_ = root.RegisterFlagCompletionFunc("as", positional(f, false, activeUser))
	_ = root.RegisterFlagCompletionFunc("context", completeContexts(f))
	_ = root.RegisterFlagCompletionFunc("server", positional(f, false, savedServer))
	_ = root.RegisterFlagCompletionFunc("org", positional(f, false, anyOrg))

	root.AddCommand(
		newCmdInit(f),
		newCmdUser(f),
		newCmdServiceAccount(f),
		newCmdInvite(f),
		newCmdProject(f),
		newCmdToken(f),
		newCmdServe(f),
		newCmdLogin(f),
		newCmdLogout(f),
		newCmdContext(f),
		newCmdAccount(f),
		newCmdRole(f),
		newCmdPermission(f),
		newCmdCan(f),
		newCmdAudit(f),
		newCmdSettings(f),
		newCmdOrg(f),
		newCmdDB(f),
		newCmdImport(f),
		newCmdExport(f),
		newCmdApply(f),
		newCmdVersion(f),
	)
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = `  roster help user list
  roster user list --help`
			c.Run, c.RunE = nil, func(cmd *cobra.Command, args []string) error {
				return helpRun(root, args)
			}
		case "completion":
			c.Example = `  source <(roster completion bash)
  roster completion zsh > "${fpath[1]}/_roster"`
			for _, sh := range c.Commands() {
				sh.Example = completionExamples[sh.Name()]
			}
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usagef("unsupported shell %q", args[0]).withHint("use bash, zsh, fish or powershell")
				}
				return nil
			}
			c.RunE = func(cmd *cobra.Command, _ []string) error {
				return usagef("roster completion needs a shell").withHint("use bash, zsh, fish or powershell")
			}
		case "settings":
			if c.Example == "" {
				c.Example = `  roster settings show
  roster settings set seats 25`
			}
			for _, sub := range c.Commands() {
				if sub.Name() == "show" && sub.Example == "" {
					sub.Example = `  roster settings show
  roster settings show -o json | jq -r .seats`
				}
			}
		}
	}
	return root, f
}

var completionExamples = map[string]string{
	"bash": `  source <(roster completion bash)
  roster completion bash > ~/.local/share/bash-completion/completions/roster`,
	"zsh": `  roster completion zsh > "${fpath[1]}/_roster"`,
	"fish": `  roster completion fish | source
  roster completion fish > ~/.config/fish/completions/roster.fish`,
	"powershell": `  roster completion powershell | Out-String | Invoke-Expression`,
}

// helpRun shows the help of the command args name; a name that is no
// command is a usage error, as it would be without help before it.
func helpRun(root *cobra.Command, args []string) error {
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		e := unknownCommand(cmd, rest[0])
		e.helpOf = cmd.CommandPath()
		return e
	}
	cmd.InitDefaultHelpFlag()
	cmd.InitDefaultVersionFlag()
	return cmd.Help()
}

// unknownCommand refuses a word that is no subcommand of cmd, saying which
// it may have meant.
func unknownCommand(cmd *cobra.Command, word string) *usageError {
	e := usagef("unknown command %q for %s", word, cmd.CommandPath())
	cmd.SuggestionsMinimumDistance = 2
	if s := cmd.SuggestionsFor(word); len(s) > 0 {
		for i := range s {
			s[i] = cmd.CommandPath() + " " + s[i]
		}
		e.withHint("did you mean %s?", strings.Join(s, " or "))
	}
	return e
}

// flagError says what is wrong with a flag in plain words: "invalid
// --limit "abc": want a whole number", not strconv's.
func flagError(_ *cobra.Command, err error) error {
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) {
		fl := invalid.GetFlag()
		want := "see --help"
		switch fl.Value.Type() {
		case "int", "int64", "uint":
			want = "want a whole number, such as " + nonZero(fl.DefValue, "10")
		case "bool":
			want = "want true or false"
		case "duration":
			want = "want a duration, such as 30s or 5m"
		}
		return usagef("invalid --%s %q: %s", fl.Name, invalid.GetValue(), want)
	}
	return usagef("%s", err)
}

func nonZero(s, otherwise string) string {
	if s == "" || s == "0" {
		return otherwise
	}
	return s
}

// exactArgs and friends turn cobra's argument errors into usage errors.
func exactArgs(n int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == n:
		case n == 0:
			return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
		default:
			return usagef("%s takes %d argument(s): %s, got %d", cmd.CommandPath(), n, strings.Join(names, " "), len(args))
		}
		return nil
	}
}

func minArgs(n int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("%s needs at least %d argument(s): %s", cmd.CommandPath(), n, strings.Join(names, " "))
		}
		return nil
	}
}

func maxArgs(n int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usagef("%s takes at most %d argument(s): %s, got %d", cmd.CommandPath(), n, strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// group makes a parent command such as "user", which only holds others.
func group(use, alias, short string, children ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:     use,
		Aliases: []string{alias},
		Short:   short,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("%s needs a subcommand", cmd.CommandPath())
		},
	}
	c.AddCommand(children...)
	return c
}

// withExample sets the examples --help and the man page show for c.
func withExample(c *cobra.Command, example string) *cobra.Command {
	c.Example = example
	return c
}
