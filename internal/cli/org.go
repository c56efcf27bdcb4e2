package cli

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
)

func newCmdOrg(f *Factory) *cobra.Command {
	c := group("org", "orgs", "Create, suspend and delete organisations (system administrators)",
		newCmdOrgList(f),
		newCmdOrgShow(f),
		newCmdOrgCreate(f),
		newCmdOrgRename(f),
		newCmdOrgSuspend(f, true),
		newCmdOrgSuspend(f, false),
		newCmdOrgDelete(f),
	)
	c.Long = `A store holds one organisation or several: each has its own users, roles,
projects, settings, tokens and audit log, and nothing done in one reaches
another (R21). The first, made by roster init, is the system organisation:
its owners and admins (orgs.manage, orgs.view) manage the others here, and
act inside any of them with --org SLUG.`
	return withExample(c, `  roster org create acme --name "Acme Ltd" --owner-email ann@acme.example --random-password
  roster --org acme user list`)
}

var orgHeader = []string{"SLUG", "NAME", "STATUS", "SYSTEM", "USERS", "ACTIVE", "SEATS", "PROJECTS", "CREATED"}

func orgRows(orgs []roster.Org) output.Rows {
	r := output.Rows{Header: orgHeader}
	for _, o := range orgs {
		r.Add(o.Slug, o.Slug, o.Name, string(o.Status), strconv.FormatBool(o.System), strconv.Itoa(o.Users),
			strconv.Itoa(o.ActiveUsers), strconv.Itoa(o.Seats), strconv.Itoa(o.Projects), formatTime(&o.CreatedAt))
	}
	return r
}

// orgChange is the JSON of an organisation after a change (docs/json.md):
// its fields, flat, with changed and, from create, its owner and, once,
// the owner's generated password or invitation; from delete, what went.
type orgChange struct {
	roster.Org
	Changed    bool               `json:"changed"`
	Owner      *roster.User       `json:"owner,omitempty"`
	Password   string             `json:"password,omitempty"`
	Invitation *roster.Invitation `json:"invitation,omitempty"`
	Deleted    map[string]int     `json:"deleted,omitempty"`
}

// printOrgResult prints an organisation after a change. In a text format
// the one-time secret a create made, the owner's password or invitation
// link, is the result, alone on stdout, as user create prints a
// generated password and invite create a link. A mailed invitation is
// not shown; one that failed to go makes the exit code 7, as invite
// create's does.
func (f *Factory) printOrgResult(res roster.OrgResult) error {
	p, err := f.Printer()
	if err != nil {
		return err
	}
	secret := res.Password
	var failed error
	if inv := res.Invitation; inv != nil {
		switch {
		case inv.MailError != "":
			f.IO.Infof("the invitation of %s was made but not mailed: %s", inv.Email, inv.MailError)
			f.IO.Infof("hint: fix the mail settings and send a new link with roster --org %s invite resend %s --send", res.Org.Slug, inv.Email)
			inv.Token, inv.URL = "", ""
			failed = &silentError{code: ExitUnavailable}
		case inv.Sent:
			f.infof("mailed the invitation to %s", inv.Email)
			inv.Token, inv.URL = "", ""
		default:
			f.infof("the invitation link of %s is shown once", inv.Email)
			secret = linkText(inv.URL, inv.Token)
		}
	}
	if secret != "" && p.Format != output.JSON && p.Format != output.YAML {
		if _, err := fmt.Fprintln(f.IO.Out, secret); err != nil {
			return err
		}
		return failed
	}
	if err := p.One(orgChange{Org: res.Org, Changed: res.Changed, Owner: res.Owner, Password: res.Password,
		Invitation: res.Invitation, Deleted: res.Deleted}, orgRows([]roster.Org{res.Org})); err != nil {
		return err
	}
	return failed
}

func newCmdOrgList(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List organisations, with their users, seats and projects",
		Long: `List organisations by slug, with their counts. Needs orgs.view or
orgs.manage: system administrators only.`,
		Example: `  roster org list
  roster org list -o json | jq -r '.[] | select(.status == "suspended") | .slug'`,
		Args: exactArgs(0),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			orgs, err := svc.ListOrgs(cmd.Context())
			if err != nil {
				return err
			}
			return f.printList(orgs, orgRows(orgs))
		}),
	}
}

func newCmdOrgShow(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "show SLUG",
		Short: "Show an organisation",
		Long: `Show an organisation: its name, status, users (all and active), seat limit
and projects. System administrators see any; others their own, with
settings.manage. Another organisation than one's own is "not found"
(exit 3) to anyone but a system administrator (R21).`,
		Example:           `  roster org show acme -o json`,
		Args:              exactArgs(1, "SLUG"),
		ValidArgsFunction: positional(f, false, anyOrg),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			o, err := svc.GetOrg(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return f.printOne(o, orgRows([]roster.Org{o}))
		}),
	}
}

type orgCreateOptions struct {
	params   roster.CreateOrg
	password passwordSource
}

func newCmdOrgCreate(f *Factory) *cobra.Command {
	opts := &orgCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create SLUG",
		Short: "Create an organisation and its first owner",
		Long: `Create an organisation with the locked roles, default settings and its first
owner, in one transaction. Needs orgs.manage.

The owner's password comes from --password-stdin, --password-file,
--password-env or --random-password (printed once, alone on stdout);
--invite invites the owner instead (the link is printed once, or mailed
with --send); with none of them the owner has no password yet. With
--if-not-exists an existing organisation of that slug is left as it is and
the command succeeds.`,
		Example: `  roster org create acme --name "Acme Ltd" --owner-email ann@acme.example --random-password
  roster org create globex --owner-email hank@globex.example --invite --send --if-not-exists`,
		Args: exactArgs(1, "SLUG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.params.Send && !opts.params.Invite {
				return usagef("--send mails the owner's invitation: it needs --invite")
			}
			opts.params.Slug = args[0]
			if opts.password.given() {
				pw, err := opts.password.read(f)
				if err != nil {
					return err
				}
				opts.params.Password, opts.params.RandomPassword = pw, opts.password.random
			}
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			res, err := svc.CreateOrg(cmd.Context(), opts.params)
			if err != nil {
				return err
			}
			if res.Changed {
				owner := opts.params.OwnerEmail
				if res.Owner != nil {
					owner = res.Owner.Email
				}
				f.infof("created organisation %s with owner %s", res.Org.Slug, owner)
			} else {
				f.infof("organisation %s: already exists, unchanged", res.Org.Slug)
			}
			if res.Password != "" {
				f.infof("the generated password of the owner is shown once; store it now")
			}
			return f.printOrgResult(res)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.params.Name, "name", "", "display `name` (default: the slug)")
	fs.StringVar(&opts.params.OwnerEmail, "owner-email", "", "the first owner's `email`")
	fs.StringVar(&opts.params.OwnerName, "owner-name", "", "the first owner's display `name`")
	fs.BoolVar(&opts.params.Invite, "invite", false, "invite the owner to choose their own password")
	fs.BoolVar(&opts.params.Send, "send", false, "mail the owner's invitation (with --invite)")
	fs.BoolVar(&opts.params.IfNotExists, "if-not-exists", false, "succeed without change when the organisation already exists")
	opts.password.addFlags(cmd, true, false)
	cmd.MarkFlagsMutuallyExclusive(append(slices.Clone(opts.password.flags), "invite")...)
	_ = cmd.MarkFlagRequired("owner-email")
	return cmd
}

func newCmdOrgRename(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "rename SLUG NAME",
		Short:             "Change an organisation's display name; its slug stays",
		Example:           `  roster org rename acme "Acme Corporation"`,
		Args:              exactArgs(2, "SLUG", "NAME"),
		ValidArgsFunction: positional(f, false, anyOrg),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			res, err := svc.UpdateOrg(cmd.Context(), args[0], roster.UpdateOrg{Name: &args[1]})
			if err != nil {
				return err
			}
			f.orgChanged(res, "renamed", "already so named")
			return f.printOrgResult(res)
		}),
	}
}

func newCmdOrgSuspend(f *Factory, suspend bool) *cobra.Command {
	use, short, did, already := "suspend SLUG", "Suspend an organisation: every sign-in, token and link stops at once", "suspended", "already suspended"
	long := `Suspend an organisation: at once, nobody of it can sign in, and its tokens,
sessions and links stop working. Its data stays; roster org resume undoes
it. The system organisation cannot be suspended.`
	example, targets := `  roster org suspend acme`, activeOrg
	if !suspend {
		use, short, did, already = "resume SLUG", "Resume a suspended organisation", "resumed", "not suspended"
		long = "Resume a suspended organisation: its people, tokens and links work again."
		example, targets = `  roster org resume acme`, suspendedOrg
	}
	return &cobra.Command{
		Use:               use,
		Short:             short,
		Long:              long,
		Example:           example,
		Args:              exactArgs(1, "SLUG"),
		ValidArgsFunction: positional(f, false, targets),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			res, err := svc.UpdateOrg(cmd.Context(), args[0], roster.UpdateOrg{Suspended: &suspend})
			if err != nil {
				return err
			}
			f.orgChanged(res, did, already)
			return f.printOrgResult(res)
		}),
	}
}

// orgChanged says on stderr what a change did to an organisation.
func (f *Factory) orgChanged(res roster.OrgResult, did, already string) {
	if res.Changed {
		f.infof("%s organisation %s", did, res.Org.Slug)
	} else {
		f.infof("organisation %s %s, unchanged", res.Org.Slug, already)
	}
}

func newCmdOrgDelete(f *Factory) *cobra.Command {
	var confirm string
	cmd := &cobra.Command{
		Use:   "delete SLUG --confirm SLUG",
		Short: "Delete an organisation and everything of it",
		Long: `Delete an organisation: its users, roles, projects, settings, tokens and
audit log, in one transaction. The slug must be repeated with --confirm;
without it nothing happens (exit 2). An owner of the organisation or a
system administrator may; never the system organisation. The system
organisation's audit log keeps an org.delete event with the counts.`,
		Example:           `  roster org delete acme --confirm acme`,
		Args:              exactArgs(1, "SLUG"),
		ValidArgsFunction: positional(f, false, deletableOrg),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			if confirm == "" {
				return usagef("deleting organisation %s needs --confirm %s", args[0], args[0]).
					withHint("it removes every user, project and audit event of it; repeat the slug to confirm")
			}
			res, err := svc.DeleteOrg(cmd.Context(), args[0], confirm)
			if err != nil {
				return err
			}
			counts := make([]string, 0, len(res.Deleted))
			for _, k := range slices.Sorted(maps.Keys(res.Deleted)) {
				counts = append(counts, fmt.Sprintf("%s: %d", k, res.Deleted[k]))
			}
			what := ""
			if len(counts) > 0 {
				what = " (" + strings.Join(counts, ", ") + ")"
			}
			f.infof("deleted organisation %s%s", res.Org.Slug, what)
			return f.printOrgResult(res)
		}),
	}
	cmd.Flags().StringVar(&confirm, "confirm", "", "the organisation's `SLUG` again")
	_ = cmd.RegisterFlagCompletionFunc("confirm", func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		return slices.Clone(args[:min(len(args), 1)]), noFiles
	})
	return cmd
}
