package cli

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
)

// Service accounts are users of kind service (DESIGN.md, "Service
// accounts, scoped and expiring access"): these commands make, list and
// end them; what acts on any user (user set-role, user set-expiry, user
// reactivate, token create --user NAME) acts on them too.

func newCmdServiceAccount(f *Factory) *cobra.Command {
	return withExample(group("service-account", "service-accounts", "Accounts for CI and integrations, which act only through tokens",
		newCmdServiceAccountCreate(f),
		newCmdServiceAccountList(f),
		newCmdServiceAccountShow(f),
		newCmdServiceAccountDeactivate(f),
		newCmdServiceAccountDelete(f),
	), `  roster service-account create ci-deploy --role admin --expires 90d
  roster token create --user ci-deploy --name deploy --scope users.create,users.view --expires 1h --file token
  roster service-account list`)
}

var serviceHeader = []string{"ID", "NAME", "DISPLAY NAME", "ROLES", "PROJECTS", "STATUS", "CREATED", "EXPIRES"}

func serviceRows(users []roster.User) output.Rows {
	r := output.Rows{Header: serviceHeader}
	for _, u := range users {
		r.Add(u.Username, strconv.FormatInt(u.ID, 10), u.Username, u.Name, strings.Join(u.Roles, ","),
			strings.Join(u.Projects, ","), string(u.Status), formatTime(&u.CreatedAt), formatTime(u.ExpiresAt))
	}
	return r
}

func newCmdServiceAccountCreate(f *Factory) *cobra.Command {
	p := roster.CreateUser{Kind: roster.KindService}
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a service account",
		Long: `Create a service account: an account for CI or an integration, named NAME
instead of an email. It has no password, no pages and no sign-in links,
and acts only through the tokens made for it (roster token create --user
NAME). It holds roles as people do (without --role, member), and takes no
seat. NAME is unique among the organisation's usernames: letters, digits,
'.', '_' or '-', starting with a letter.`,
		Example: `  roster service-account create ci-deploy --role admin
  roster service-account create nightly-sync --display-name "Nightly HR sync" --expires 2027-06-30 --if-not-exists`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: noArgs,
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			p.Username = args[0]
			res, err := svc.CreateUser(cmd.Context(), p)
			if err != nil {
				return err
			}
			if err := f.printUserResults([]roster.UserResult{res}, true, "created service account", "already exists"); err != nil {
				return err
			}
			if res.Changed {
				f.infof("hint: make it a token with roster token create --user %s --name NAME --scope PERM,... --expires 1h --file FILE", res.User.Username)
			}
			return nil
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&p.Name, "display-name", "", "what the account is for, shown as its `name`")
	fs.StringArrayVar(&p.Roles, "role", nil, "give `ROLE` (repeatable; default member)")
	fs.StringArrayVar(&p.Projects, "project", nil, "add the account to `PROJECT` (repeatable)")
	fs.StringVar(&p.Expires, "expires", "", "the account expires at `WHEN`: a date, an RFC 3339 time or a duration (90d)")
	fs.BoolVar(&p.IfNotExists, "if-not-exists", false, "succeed without change when the service account already exists")
	_ = cmd.RegisterFlagCompletionFunc("role", completeRoles(f))
	_ = cmd.RegisterFlagCompletionFunc("project", completeProjects(f))
	return cmd
}

func newCmdServiceAccountList(f *Factory) *cobra.Command {
	opts := &userListOptions{filter: roster.UserFilter{Kind: roster.KindService}, table: &table{serviceHeader, serviceRows}}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List service accounts, by name",
		Long: `List the organisation's service accounts in name order, a page at a time,
as roster user list pages (--after, --all, --page-info).`,
		Example: `  roster service-account list
  roster service-account list --status expired -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.filter.Status = roster.Status(opts.status)
			if opts.all && opts.filter.After != "" {
				return usagef("--all and --after cannot be used together")
			}
			return userListRun(cmd, f, opts)
		},
	}
	cmd.Flags().StringVar(&opts.status, "status", "", "only accounts with this `status`: active, expired or deactivated")
	cmd.Flags().StringVar(&opts.filter.Role, "role", "", "only holders of `ROLE`")
	addPagingFlags(cmd, opts)
	_ = cmd.RegisterFlagCompletionFunc("status", fixedCompletion("active", "expired", "deactivated"))
	_ = cmd.RegisterFlagCompletionFunc("role", completeRoles(f))
	return cmd
}

// serviceAccount finds the service account ref, refusing a person: these
// commands never act on people, whatever reference they are given.
func serviceAccount(cmd *cobra.Command, svc roster.Service, ref string) (roster.User, error) {
	u, err := svc.GetUser(cmd.Context(), ref)
	if err == nil && !u.Service() {
		err = roster.Errorf(roster.ErrNotFound, "%s is a person, not a service account", ref).
			WithHint("people are managed with roster user; see roster service-account list")
	}
	return u, err
}

func newCmdServiceAccountShow(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "show NAME",
		Short:             "Show one service account",
		Long:              "Show one service account, by its name or id.",
		Example:           `  roster service-account show ci-deploy -o json`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: positional(f, false, anyService),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			u, err := serviceAccount(cmd, svc, args[0])
			if err != nil {
				return err
			}
			return f.printOne(u, serviceRows([]roster.User{u}))
		}),
	}
}

func newCmdServiceAccountDeactivate(f *Factory) *cobra.Command {
	var reason string
	cmd := newUserBatch(f, "deactivate NAME...", "Deactivate service accounts",
		`Deactivate service accounts: their tokens stop working at once, and all
their data is kept. roster user reactivate NAME brings one back.`,
		`  roster service-account deactivate ci-deploy --reason "pipeline retired"`,
		"deactivated", "already deactivated", activeService,
		func(cmd *cobra.Command, svc roster.Service, ref string) (roster.UserResult, error) {
			if _, err := serviceAccount(cmd, svc, ref); err != nil {
				return roster.UserResult{}, err
			}
			return svc.DeactivateUser(cmd.Context(), ref, reason)
		})
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	return cmd
}

func newCmdServiceAccountDelete(f *Factory) *cobra.Command {
	cmd := newUserBatch(f, "delete NAME...", "Delete service accounts that never did anything",
		`Delete service accounts for good. As for people (R7), only accounts that
never acted can be deleted; deactivate the others. Asks for confirmation
on a terminal; needs --yes otherwise.`,
		`  roster service-account delete typo-bot --yes`,
		"deleted", "", anyService,
		func(cmd *cobra.Command, svc roster.Service, ref string) (roster.UserResult, error) {
			if _, err := serviceAccount(cmd, svc, ref); err != nil {
				return roster.UserResult{}, err
			}
			u, err := svc.DeleteUser(cmd.Context(), ref)
			return roster.UserResult{User: u, Changed: true}, err
		})
	return f.confirmingDelete(cmd)
}
