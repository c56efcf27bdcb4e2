// Package cli is roster's command tree: cobra commands that parse flags
// into options and call roster.Service, and the printing of results.
package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

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
		printError(io.ErrOut, err, cmd.CommandPath(), f.jsonErrors())
	}
	return ExitCode(err)
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

` + exitCodesHelp,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	pf := root.PersistentFlags()
	pf.String("db", "", "SQLite store `path` (default $XDG_DATA_HOME/roster/roster.db)")
	pf.String("config", "", "config `file` (default $XDG_CONFIG_HOME/roster/config.yaml)")
	pf.StringP("output", "o", "", "output `format`: table, tsv, json, yaml, csv or name (default table on a terminal, tsv otherwise)")
	pf.String("as", "", "act as `USER`, with that user's permissions and rules (local mode)")
	pf.String("server", "", "act on the roster server at `URL` (remote mode)")
	pf.String("token-file", "", "read the API token for the server from `file` (or set ROSTER_TOKEN)")
	pf.String("context", "", "use the saved server and token `NAME` (see roster context)")
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
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%s", err)
	})
	_ = root.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"table", "tsv", "json", "yaml", "csv", "name"}, cobra.ShellCompDirectiveNoFileComp
	})
	_ = root.RegisterFlagCompletionFunc("as", completeUsers(f))

	root.AddCommand(
		newCmdInit(f),
		newCmdUser(f),
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
		newCmdDB(f),
		newCmdImport(f),
		newCmdExport(f),
		newCmdApply(f),
		newCmdVersion(f),
	)
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usagef("unsupported shell %q", args[0]).withHint("use bash, zsh, fish or powershell")
				}
				return nil
			}
			c.RunE = func(cmd *cobra.Command, _ []string) error {
				return usagef("roster completion needs a shell").withHint("use bash, zsh, fish or powershell")
			}
		}
	}
	return root, f
}

// exactArgs and friends turn cobra's argument errors into usage errors.
func exactArgs(n int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
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
				return usagef("unknown command %q for %s", args[0], cmd.CommandPath())
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
