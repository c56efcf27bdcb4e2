package cli

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

func newCmdCan(f *Factory) *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:   "can USER PERMISSION",
		Short: "Say whether a user holds a permission, and through which roles",
		Long: `Say whether USER holds PERMISSION, implications included, and which of
their roles grant it. Exits 0 for yes and 1 for no, so scripts can test it:

  if roster can alice@example.com invoices.manage -q; then …

With --project the answer is for that project: projects.members counts
only where the user is a member, unless projects.manage grants it.`,
		Example: `  roster can alice@example.com invoices.manage
  roster can dana@example.com projects.members --project billing -q && echo yes`,
		Args:              exactArgs(2, "USER", "PERMISSION"),
		ValidArgsFunction: positional(f, false, anyUser, anyPermission),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			d, err := svc.Can(cmd.Context(), args[0], args[1], project)
			if err != nil {
				return err
			}
			p, err := f.Printer()
			if err != nil {
				return err
			}
			answer := "no"
			if d.Allowed {
				answer = "yes"
			}
			rows := output.Rows{Header: []string{"ALLOWED", "GRANTED_BY", "REASON"}}
			rows.Add(answer, answer, strings.Join(d.GrantedBy, ","), d.Reason)
			if err := p.One(d, rows); err != nil {
				return err
			}
			if !d.Allowed {
				return &silentError{code: ExitError}
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&project, "project", "", "answer for `PROJECT`")
	_ = cmd.RegisterFlagCompletionFunc("project", completeProjects(f))
	return cmd
}

type auditOptions struct {
	filter       roster.AuditFilter
	since, until string
}

func newCmdAudit(f *Factory) *cobra.Command {
	opts := &auditOptions{}
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit events, newest first",
		Long: `List audit events, newest first. --since and --until take a duration back
from now (24h, 7d) or an RFC 3339 time. --action takes an action such as
user.deactivate, or a family such as user.*.`,
		Example: `  roster audit list --since 7d --action user.deactivate
  roster audit list --target alice@example.com -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			now := f.now()
			if opts.filter.Since, err = parseWhen(opts.since, now, "--since"); err != nil {
				return err
			}
			if opts.filter.Until, err = parseWhen(opts.until, now, "--until"); err != nil {
				return err
			}
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			events, err := svc.ListAudit(cmd.Context(), opts.filter)
			if err != nil {
				return err
			}
			return f.printList(events, auditRows(events))
		},
	}
	fs := list.Flags()
	fs.StringVar(&opts.since, "since", "", "only events since `when` (24h, 7d or RFC 3339)")
	fs.StringVar(&opts.until, "until", "", "only events until `when` (24h, 7d or RFC 3339)")
	fs.StringVar(&opts.filter.Actor, "actor", "", "only events by `USER` (or local:NAME)")
	fs.StringVar(&opts.filter.Action, "action", "", "only events of `action`, such as user.create or user.*")
	fs.StringVar(&opts.filter.Target, "target", "", "only events about `USER`")
	fs.IntVar(&opts.filter.Limit, "limit", 50, "at most `N` events")
	_ = list.RegisterFlagCompletionFunc("actor", completeUsers(f))
	_ = list.RegisterFlagCompletionFunc("target", completeUsers(f))
	_ = list.RegisterFlagCompletionFunc("action", completeActions)
	return withExample(group("audit", "audits", "Read, stream, verify and prune the audit log", list,
		newCmdAuditTail(f), newCmdAuditExport(f), newCmdAuditVerify(f), newCmdAuditPrune(f)),
		`  roster audit list --since 24h
  roster audit list --action 'user.*' --limit 5`)
}

// parseWhen reads a duration back from now, or an RFC 3339 time.
func parseWhen(s string, now time.Time, flag string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := roster.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("invalid %s %q", flag, s).withHint("give a duration such as 24h or 7d, or a time such as 2026-01-02T15:04:05Z")
	}
	return t, nil
}

func newCmdSettings(f *Factory) *cobra.Command {
	show := &cobra.Command{
		Use:   "show",
		Short: "Show every setting, with defaults filled in",
		Long: `Show every setting, with defaults filled in. Through a server the host
settings (base_url and mail.*: R16) are not shown; they belong to whoever
runs the server (roster serve --help).`,
		Args: exactArgs(0),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			set, err := svc.GetSettings(cmd.Context())
			if err != nil {
				return err
			}
			p, err := f.Printer()
			if err != nil {
				return err
			}
			rows := output.Rows{Header: []string{"KEY", "VALUE", "DESCRIPTION"}}
			for _, spec := range roster.SettingSpecs {
				if v, ok := set[spec.Key]; ok { // a server shows no host setting (R16)
					rows.Add(spec.Key, spec.Key, v, spec.Describe)
				}
			}
			return p.List(set, rows)
		}),
	}
	var keys []string
	for _, s := range roster.SettingSpecs {
		keys = append(keys, s.Key)
	}
	set := &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Change a setting",
		Long: "Change a setting. The keys:\n  " + strings.Join(keys, "\n  ") + `

Host settings (base_url and mail.*: R16) are set only in local mode, by
whoever runs the store's host; through a server they are refused (exit 5),
owners included. roster serve also takes them as flags, from the
environment or from its config file (roster serve --help).`,
		Example: `  roster settings set seats 50
  roster settings set invite.ttl 3d`,
		Args: exactArgs(2, "KEY", "VALUE"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return keys, cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			res, err := svc.SetSetting(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if res.Changed {
				f.infof("set %s to %q", res.Key, res.Value)
			} else {
				f.infof("%s is already %q, unchanged", res.Key, res.Value)
			}
			p, err := f.Printer()
			if err != nil {
				return err
			}
			rows := output.Rows{Header: []string{"KEY", "VALUE"}}
			rows.Add(res.Key, res.Key, res.Value)
			return p.One(res, rows)
		}),
	}
	return group("settings", "setting", "Show and change store-wide settings", show, set)
}

func newCmdDB(f *Factory) *cobra.Command {
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the store's schema up to date",
		Long:  "Create the store if need be and apply pending schema migrations in one transaction.",
		Example: `  roster db migrate
  roster --db postgres://roster@db.example.com/roster db migrate`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.localConfig()
			if err != nil {
				return err
			}
			db, err := openStore(cmd.Context(), cfg.DB, false)
			if err != nil {
				return err
			}
			defer db.Close()
			n, err := db.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			if n == 0 {
				f.infof("schema already at version %d, unchanged", db.SchemaVersion())
			} else {
				f.infof("applied %d migration(s); schema at version %d", n, db.SchemaVersion())
			}
			return nil
		},
	}
	check := &cobra.Command{
		Use:   "check",
		Short: "Check the store's integrity and schema version",
		Example: `  roster db check
  roster --db /srv/roster/roster.db db check -q`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.localConfig()
			if err != nil {
				return err
			}
			if err := storeExists(cfg.DB); err != nil {
				return err
			}
			db, err := openStore(cmd.Context(), cfg.DB, false)
			if err != nil {
				return err
			}
			defer db.Close()
			version, problems, err := db.Check(cmd.Context())
			if err != nil {
				return err
			}
			for _, p := range problems {
				f.IO.Infof("integrity: %s", p)
			}
			switch {
			case len(problems) > 0:
				return fmt.Errorf("store %s failed its integrity check (%d problems)", db.Path(), len(problems))
			case version < db.SchemaVersion():
				return roster.Errorf(roster.ErrConflict, "store schema version %d is older than %d", version, db.SchemaVersion()).
					WithHint("run roster db migrate")
			case version > db.SchemaVersion():
				return roster.Errorf(roster.ErrConflict, "store schema version %d is newer than this roster (%d)", version, db.SchemaVersion()).
					WithHint("upgrade roster")
			}
			f.infof("store %s is sound; schema version %d", db.Path(), version)
			if db.ReadOnly() {
				// Said, not failed: reading a read-only store is fine, but
				// the next change would exit 7.
				f.infof("store %s is read-only for you: it can be read and backed up, not changed", db.Path())
			}
			return nil
		},
	}
	backup := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the store to FILE",
		Long: `Write a consistent copy of the store to a new FILE (mode 0600), safe while
others write. An existing FILE is refused, never overwritten.

The copy is written beside FILE under a temporary name of roster's own,
.FILE.roster-tmp-backup-*.tmp, and takes FILE's name only once complete. A
backup killed midway (SIGKILL, a crash) leaves that partial copy behind,
password hashes and all: the next backup to the same FILE first removes
every such stale copy that no running backup holds, saying so on stderr
("removed …, a partial copy left by an interrupted backup"). Files of any
other naming are left alone.`,
		Example:           `  roster db backup /var/backups/roster-$(date +%F).db`,
		Args:              exactArgs(1, "FILE"),
		ValidArgsFunction: fileArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := f.Store(cmd.Context(), false)
			if err != nil {
				return err
			}
			// A backup killed midway leaves a partial copy, password
			// hashes and all, under a temporary name: sweep those first.
			if _, local := db.(*sqlite.DB); local {
				removed, err := sqlite.RemoveStaleBackups(args[0])
				for _, name := range removed {
					f.infof("removed %s, a partial copy left by an interrupted backup", name)
				}
				if err != nil {
					return err
				}
			}
			if err := db.Backup(cmd.Context(), args[0]); err != nil {
				return err
			}
			f.infof("backed up %s to %s", db.Path(), args[0])
			return nil
		},
	}
	return withExample(group("db", "database", "Migrate, check and back up the local store", migrate, check, backup),
		`  roster db check
  roster db backup team-backup.db`)
}

func newCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print roster's version",
		Example: `  roster version
  roster version -o json
  roster --version`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.Printer()
			if err != nil {
				return err
			}
			v := struct {
				Version       string `json:"version"`
				Go            string `json:"go"`
				SchemaVersion int    `json:"schema_version"`
			}{Version, runtime.Version(), sqlite.SchemaVersion}
			rows := output.Rows{Header: []string{"VERSION", "GO", "SCHEMA"}}
			rows.Add(Version, Version, v.Go, fmt.Sprint(v.SchemaVersion))
			return p.One(v, rows)
		},
	}
}
