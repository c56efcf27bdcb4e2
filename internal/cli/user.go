package cli

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
)

func newCmdUser(f *Factory) *cobra.Command {
	return withExample(group("user", "users", "Create, change, deactivate and delete users",
		newCmdUserList(f),
		newCmdUserShow(f),
		newCmdUserCreate(f),
		newCmdUserUpdate(f),
		newCmdUserSetRole(f),
		newCmdUserSetProjects(f),
		newCmdUserSetPassword(f),
		newCmdUserResetLink(f),
		newCmdUserDeactivate(f),
		newCmdUserReactivate(f),
		newCmdUserSetExpiry(f),
		newCmdUserDelete(f),
	), `  roster user create alice@example.com --name Alice --no-password
  roster user list --status active
  roster user deactivate bob@example.com --reason "left the team"`)
}

type userListOptions struct {
	filter   roster.UserFilter
	kind     string
	status   string
	expiring string
	all      bool
	pageInfo bool
	// table is how a page prints as a table (nil: userTable).
	table *table
}

// table is a header and how a page of users fills it.
type table struct {
	header []string
	rows   func([]roster.User) output.Rows
}

var userTable = &table{userHeader, userRows}

func newCmdUserList(f *Factory) *cobra.Command {
	opts := &userListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users, by email",
		Long: `List users in email order, a page at a time: people, unless --kind says
otherwise (service accounts are listed by roster service-account list, or
--kind service; --kind all lists both).

When more users follow, the cursor of the next page is printed on stderr;
pass it to --after, or give --all to list every page. -o json prints an
array of users; with --page-info it prints an object instead,
{"items": [user...], "next_cursor": "..."}, whose next_cursor is null on
the last page, so that a script can tell a list that was cut short (-o
yaml likewise).`,
		Example: `  roster user list --status active --role admin
  roster user list --expiring 30d
  roster user list --status invited -o name | tr '\n' '\0' | xargs -0 roster user deactivate --
  roster user list --limit 100 -o json --page-info | jq -r .next_cursor`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.parseKind(); err != nil {
				return err
			}
			opts.filter.Status = roster.Status(opts.status)
			if opts.expiring != "" {
				d, err := roster.ParseDuration(opts.expiring)
				if err != nil || d <= 0 {
					return usagef("invalid --expiring %q: give a duration such as 30d or 12h", opts.expiring)
				}
				opts.filter.Expiring = d
			}
			if opts.all && opts.filter.After != "" {
				return usagef("--all and --after cannot be used together")
			}
			return userListRun(cmd, f, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.kind, "kind", "person", "list accounts of this `kind`: person, service (service accounts) or all")
	fs.StringVar(&opts.status, "status", "", "only users with this `status`: invited, active, expired or deactivated")
	fs.StringVar(&opts.expiring, "expiring", "", "only users whose account expires within `DURATION` (30d), not yet expired")
	fs.StringVar(&opts.filter.Role, "role", "", "only holders of `ROLE`")
	fs.StringVar(&opts.filter.Project, "project", "", "only members of `PROJECT`")
	addPagingFlags(cmd, opts)
	_ = cmd.RegisterFlagCompletionFunc("kind", fixedCompletion("person", "service", "all"))
	_ = cmd.RegisterFlagCompletionFunc("status", fixedCompletion("invited", "active", "expired", "deactivated"))
	_ = cmd.RegisterFlagCompletionFunc("role", completeRoles(f))
	_ = cmd.RegisterFlagCompletionFunc("project", completeProjects(f))
	return cmd
}

// parseKind reads --kind into the filter: all is every kind.
func (opts *userListOptions) parseKind() error {
	switch opts.kind {
	case "all":
		opts.filter.Kind = ""
	case string(roster.KindPerson), string(roster.KindService):
		opts.filter.Kind = roster.Kind(opts.kind)
	default:
		return usagef("invalid --kind %q", opts.kind).withHint("use person, service or all")
	}
	return nil
}

// addPagingFlags adds the search and paging flags of user listings.
func addPagingFlags(cmd *cobra.Command, opts *userListOptions) {
	fs := cmd.Flags()
	fs.StringVar(&opts.filter.Search, "search", "", "only users whose email, username or name contains `text`")
	fs.IntVar(&opts.filter.Limit, "limit", 50, "users per page, at most 1000")
	fs.StringVar(&opts.filter.After, "after", "", "start after this `cursor` from a previous page")
	fs.BoolVar(&opts.all, "all", false, "list every page")
	fs.BoolVar(&opts.pageInfo, "page-info", false, `with -o json or yaml, print {"items": [...], "next_cursor": ...} instead of the bare list`)
}

func userListRun(cmd *cobra.Command, f *Factory, opts *userListOptions) error {
	ctx := cmd.Context()
	if opts.filter.Limit < 1 {
		return usagef("invalid --limit %d", opts.filter.Limit).withHint("use 1 to 1000, or --all")
	}
	svc, err := f.Service(ctx)
	if err != nil {
		return err
	}
	p, err := f.Printer()
	if err != nil {
		return err
	}
	if opts.pageInfo && p.Format != output.JSON && p.Format != output.YAML {
		return usagef("--page-info needs -o json or -o yaml").
			withHint("the other formats list the users alone; the next page's cursor is on stderr")
	}
	filter := opts.filter
	if opts.all && !cmd.Flags().Changed("limit") {
		filter.Limit = roster.MaxPageSize // fewer, larger reads when listing everything
	}
	// Pages are printed as they come: --all over a million users holds one
	// page in memory, not the million.
	t := opts.table
	if t == nil {
		t = userTable
	}
	var out pageStream = p.Stream(t.header)
	if opts.pageInfo {
		out = newPageInfo(p)
	}
	for {
		page, err := svc.ListUsers(ctx, filter)
		if err != nil {
			return err
		}
		items := make([]any, len(page.Items))
		for i := range page.Items {
			items[i] = page.Items[i]
		}
		if err := out.Page(items, t.rows(page.Items)); err != nil {
			return err
		}
		if page.Next == "" {
			break
		}
		if !opts.all {
			f.infof("more users follow: --after %s", page.Next)
			if pi, ok := out.(*pageInfo); ok {
				pi.next = page.Next
			}
			break
		}
		filter.After = page.Next
	}
	return out.Close()
}

// pageStream prints a list that arrives in pages.
type pageStream interface {
	Page(items []any, rows output.Rows) error
	Close() error
}

// pageInfo prints pages as one object, {"items": [...], "next_cursor": c},
// for --page-info: the items are streamed as they come, and the cursor
// (null when there is no next page) follows them.
type pageInfo struct {
	p    *output.Printer
	n    int
	next string
	err  error
}

func newPageInfo(p *output.Printer) *pageInfo { return &pageInfo{p: p} }

func (s *pageInfo) write(str string) error {
	if s.err == nil {
		_, s.err = io.WriteString(s.p.W, str)
	}
	return s.err
}

func (s *pageInfo) Page(items []any, _ output.Rows) error {
	for _, it := range items {
		if s.p.Format == output.YAML {
			if s.n == 0 {
				s.write("items:\n")
			}
			s.n++
			if s.err == nil {
				s.err = (&output.Printer{W: s.p.W, Format: output.YAML}).One([]any{it}, output.Rows{})
			}
			continue
		}
		b, err := json.MarshalIndent(it, "    ", "  ")
		if err != nil {
			return err
		}
		sep := ",\n    "
		if s.n == 0 {
			sep = "{\n  \"items\": [\n    "
		}
		s.n++
		s.write(sep + string(b))
	}
	return s.err
}

func (s *pageInfo) Close() error {
	var next any
	if s.next != "" {
		next = s.next
	}
	cursor, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if s.p.Format == output.YAML {
		if s.n == 0 {
			s.write("items: []\n")
		}
		// A cursor is plain text: as a JSON string it is a valid YAML scalar.
		return s.write("next_cursor: " + string(cursor) + "\n")
	}
	if s.n == 0 {
		s.write("{\n  \"items\": [")
	} else {
		s.write("\n  ")
	}
	return s.write("],\n  \"next_cursor\": " + string(cursor) + "\n}\n")
}

func newCmdUserShow(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "show USER",
		Short: "Show one user",
		Long:  "Show one user. USER is an email, a username, an id or kind:value (github:alice).",
		Example: `  roster user show alice@example.com
  roster user show github:bob -o json`,
		Args:              exactArgs(1, "USER"),
		ValidArgsFunction: completeUsers(f),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			u, err := svc.GetUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return f.printOne(u, userRows([]roster.User{u}))
		}),
	}
}

type userCreateOptions struct {
	params   roster.CreateUser
	links    []string
	password passwordSource
}

func newCmdUserCreate(f *Factory) *cobra.Command {
	opts := &userCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create EMAIL",
		Short: "Create a user",
		Long: `Create an active user. Without --role the user gets the member role.
With --expires the account stops working at that instant: a date (its
start, UTC), an RFC 3339 time, or a duration from now (30d, 12h).

The password comes from --password-stdin, --password-file, --random-password
(printed once), or a prompt on the terminal; --no-password makes an account
without one. With --if-not-exists an existing user of that email is left as
it is, the command succeeds, and any difference from what was asked (roles,
name, username, links, projects) is reported on stderr.`,
		Example: `  roster user create alice@example.com --name Alice --role admin --random-password
  printf '%s' "$PW" | roster user create bob@example.com --password-stdin --link github=bob
  roster user create carol@example.com --no-password --expires 2026-09-30`,
		Args: exactArgs(1, "EMAIL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			links, err := parseLinks(opts.links)
			if err != nil {
				return err
			}
			if !opts.password.given() && !f.IO.CanPrompt() {
				return opts.password.missing()
			}
			opts.params.Email, opts.params.Links = args[0], links
			return userCreateRun(cmd, f, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.params.Name, "name", "", "display `name`")
	fs.StringVar(&opts.params.Username, "username", "", "unique `username`")
	fs.StringArrayVar(&opts.params.Roles, "role", nil, "give `ROLE` (repeatable; default member)")
	fs.StringArrayVar(&opts.links, "link", nil, "link an external identity `kind=value` (repeatable)")
	fs.StringArrayVar(&opts.params.Projects, "project", nil, "add the user to `PROJECT` (repeatable)")
	fs.BoolVar(&opts.params.MustChangePassword, "must-change-password", false, "make the user change the password at next sign-in")
	fs.BoolVar(&opts.params.IfNotExists, "if-not-exists", false, "succeed without change when the email already exists")
	fs.StringVar(&opts.params.Expires, "expires", "", "the account expires at `WHEN`: a date, an RFC 3339 time or a duration (30d)")
	opts.password.addFlags(cmd, true, true)
	_ = cmd.RegisterFlagCompletionFunc("role", completeRoles(f))
	_ = cmd.RegisterFlagCompletionFunc("project", completeProjects(f))
	return cmd
}

func userCreateRun(cmd *cobra.Command, f *Factory, opts *userCreateOptions) error {
	ctx := cmd.Context()
	svc, err := f.Service(ctx)
	if err != nil {
		return err
	}
	pw, err := opts.password.read(f)
	if err != nil {
		return err
	}
	opts.params.Password, opts.params.RandomPassword = pw, opts.password.random
	res, err := svc.CreateUser(ctx, opts.params)
	if err != nil {
		return err
	}
	print := f.printUserResults
	if opts.password.random {
		print = f.printGenerated
	}
	if err := print([]roster.UserResult{res}, true, "created", "already exists"); err != nil {
		return err
	}
	if res.Changed && !res.User.HasPassword {
		f.infof("hint: %s has no password yet; send a link to set one with roster user reset-link %s --send", res.User.Email, res.User.Email)
	}
	return nil
}

// parseLinks turns kind=value flags into a map.
func parseLinks(flags []string) (map[string]string, error) {
	links := map[string]string{}
	for _, l := range flags {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, usagef("invalid --link %q: want kind=value, such as github=alice", l)
		}
		if _, dup := links[k]; dup {
			return nil, usagef("--link %s given twice", k)
		}
		links[k] = v
	}
	return links, nil
}

type userUpdateOptions struct {
	params roster.UpdateUser
	links  []string
}

func newCmdUserUpdate(f *Factory) *cobra.Command {
	opts := &userUpdateOptions{}
	var name, email, username string
	cmd := &cobra.Command{
		Use:               "update USER",
		Short:             "Change a user's name, email, username or links",
		Example:           `  roster user update alice@example.com --name "Alice Liddell" --link github=alice --unlink gitlab`,
		Args:              exactArgs(1, "USER"),
		ValidArgsFunction: completeUsers(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			if fs.Changed("name") {
				opts.params.Name = &name
			}
			if fs.Changed("email") {
				opts.params.Email = &email
			}
			if fs.Changed("username") {
				opts.params.Username = &username
			}
			links, err := parseLinks(opts.links)
			if err != nil {
				return err
			}
			opts.params.Links = links
			if opts.params.Name == nil && opts.params.Email == nil && opts.params.Username == nil && len(links) == 0 && len(opts.params.Unlink) == 0 {
				return usagef("nothing to update").withHint("give --name, --email, --username, --link or --unlink")
			}
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			res, err := svc.UpdateUser(cmd.Context(), args[0], opts.params)
			if err != nil {
				return err
			}
			return f.printUserResults([]roster.UserResult{res}, true, "updated", "already so")
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&name, "name", "", "new display `name`")
	fs.StringVar(&email, "email", "", "new `email`")
	fs.StringVar(&username, "username", "", "new `username`")
	fs.StringArrayVar(&opts.links, "link", nil, "set an external identity `kind=value` (repeatable)")
	fs.StringArrayVar(&opts.params.Unlink, "unlink", nil, "remove the external identity of `kind` (repeatable)")
	return cmd
}

func newCmdUserSetRole(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "set-role USER ROLE...",
		Short: "Replace a user's roles",
		Long: `Replace a user's roles with the given ones. You can only grant roles whose
permissions you hold; only owners grant or revoke owner.`,
		Example:           `  roster user set-role alice@example.com admin`,
		Args:              minArgs(2, "USER", "ROLE..."),
		ValidArgsFunction: positional(f, true, anyUser, anyRole),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			res, err := svc.SetRoles(cmd.Context(), args[0], args[1:])
			if err != nil {
				return err
			}
			return f.printUserResults([]roster.UserResult{res}, true, "set roles of", "already has these roles")
		}),
	}
}

type setPasswordOptions struct {
	params   roster.SetPassword
	password passwordSource
}

func newCmdUserSetPassword(f *Factory) *cobra.Command {
	opts := &setPasswordOptions{}
	cmd := &cobra.Command{
		Use:   "set-password USER",
		Short: "Set another user's password",
		Long: `Set another user's password without knowing the current one. The password
comes from --password-stdin, --password-file, --random-password (printed
once) or a prompt on the terminal. The user's browser sessions, reset
links and API tokens keep working unless --revoke-sessions is given, which
ends them all (R18).`,
		Example:           `  roster user set-password bob@example.com --random-password --must-change-password`,
		Args:              exactArgs(1, "USER"),
		ValidArgsFunction: completePeople(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !opts.password.given() && !f.IO.CanPrompt() {
				return opts.password.missing()
			}
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			pw, err := opts.password.read(f)
			if err != nil {
				return err
			}
			opts.params.Password, opts.params.RandomPassword = pw, opts.password.random
			res, err := svc.SetPassword(cmd.Context(), args[0], opts.params)
			if err != nil {
				return err
			}
			return f.printUserResults([]roster.UserResult{res}, true, "set the password of", "")
		},
	}
	cmd.Flags().BoolVar(&opts.params.MustChangePassword, "must-change-password", false, "make the user change the password at next sign-in")
	cmd.Flags().BoolVar(&opts.params.RevokeSessions, "revoke-sessions", false, "also end the user's browser sessions, live reset links and API tokens (R18)")
	opts.password.addFlags(cmd, true, false)
	return cmd
}

// userBatch is a command applying one change to several users.
// Only targets in the state the change starts from are completed.
func newUserBatch(f *Factory, use, short, long, example, did, already string, targets candidates, apply func(cmd *cobra.Command, svc roster.Service, ref string) (roster.UserResult, error)) *cobra.Command {
	return &cobra.Command{
		Use:               use,
		Short:             short,
		Long:              long,
		Example:           example,
		Args:              minArgs(1, "USER..."),
		ValidArgsFunction: positional(f, true, targets),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			results, failed := eachTarget(cmd.Context(), f, cmd.CommandPath(), args, func(ref string) (roster.UserResult, error) {
				return apply(cmd, svc, ref)
			})
			return printThen(len(results), func() error {
				return f.printUserResults(results, len(args) == 1, did, already)
			}, failed)
		}),
	}
}

func newCmdUserDeactivate(f *Factory) *cobra.Command {
	var reason string
	cmd := newUserBatch(f, "deactivate USER...", "Deactivate users",
		`Deactivate users: they can no longer sign in or use tokens, and all their
data is kept. Deactivating a deactivated user changes nothing.`,
		`  roster user deactivate bob@example.com --reason "left the team"
  roster user list --status invited -o name | xargs roster user deactivate --`,
		"deactivated", "already deactivated", deactivatableUser,
		func(cmd *cobra.Command, svc roster.Service, ref string) (roster.UserResult, error) {
			return svc.DeactivateUser(cmd.Context(), ref, reason)
		})
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	return cmd
}

func newCmdUserReactivate(f *Factory) *cobra.Command {
	return newUserBatch(f, "reactivate USER...", "Reactivate deactivated users",
		`Reactivate deactivated or expired users. The seat limit applies. An
expiry that has passed is removed.`,
		`  roster user reactivate bob@example.com`,
		"reactivated", "already active", reactivatableUser,
		func(cmd *cobra.Command, svc roster.Service, ref string) (roster.UserResult, error) {
			return svc.ReactivateUser(cmd.Context(), ref)
		})
}

func newCmdUserSetExpiry(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "set-expiry USER WHEN",
		Short: "Set when a user's account expires",
		Long: `Set when a user's account expires: WHEN is a date (its start, UTC), an
RFC 3339 time, a duration from now (30d, 12h), or never. From that instant
the user can no longer sign in or use tokens, no longer takes a seat, and
reads as expired; nothing needs to run for it. Giving an expired user a
later expiry, or never, brings them back, and the seat limit applies.`,
		Example: `  roster user set-expiry contractor@example.com 2026-09-30
  roster user set-expiry contractor@example.com 30d
  roster user set-expiry contractor@example.com never`,
		Args:              exactArgs(2, "USER", "WHEN"),
		ValidArgsFunction: positional(f, false, anyUser, fixed("never", "30d", "90d")),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			res, err := svc.SetExpiry(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return f.printUserResults([]roster.UserResult{res}, true, "set the expiry of", "already expires then")
		}),
	}
}

func newCmdUserDelete(f *Factory) *cobra.Command {
	cmd := newUserBatch(f, "delete USER...", "Delete users who never did anything",
		`Delete users for good. Only users who never acted (no audit event names them
as actor) can be deleted; deactivate the others. Asks for confirmation on a
terminal; needs --yes otherwise.`,
		`  roster user delete typo@example.com --yes`,
		"deleted", "", anyUser,
		func(cmd *cobra.Command, svc roster.Service, ref string) (roster.UserResult, error) {
			u, err := svc.DeleteUser(cmd.Context(), ref)
			return roster.UserResult{User: u, Changed: true}, err
		})
	return f.confirmingDelete(cmd)
}

// confirmingDelete makes cmd ask before it deletes its arguments.
func (f *Factory) confirmingDelete(cmd *cobra.Command) *cobra.Command {
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if err := f.confirm("delete " + strings.Join(args, ", ") + "?"); err != nil {
			return err
		}
		return run(c, args)
	}
	return cmd
}

// confirm asks before a destructive step unless --yes; without a terminal
// and without --yes it refuses.
func (f *Factory) confirm(question string) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	if cfg.Yes {
		return nil
	}
	if !f.IO.CanPrompt() {
		return usagef("refusing to %s without confirmation", strings.TrimSuffix(question, "?")).withHint("pass --yes")
	}
	ok, err := f.IO.Confirm("roster: " + question)
	if err != nil {
		return err
	}
	// Declined is exit 2, the code of the same command refused without a
	// terminal and without --yes: the answer given does not let it run.
	// Not 1, which is a bug in roster, nor 0: nothing asked for was done.
	if !ok {
		return roster.Errorf(roster.ErrInvalid, "not confirmed; nothing changed").
			WithHint("answer y to go ahead, or give --yes")
	}
	return nil
}
