package cli

import (
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/roster-dev/roster/internal/roster"
)

// Completion offers, at each position, only what the command there
// accepts: reactivate offers deactivated users, role delete custom roles,
// token revoke live tokens. Any failure (no store yet, no permission)
// completes nothing. No argument and no flag value offers local file
// names unless it names a file; TestCompletion holds every one of them.

type completeFunc = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)

const noFiles = cobra.ShellCompDirectiveNoFileComp

// candidates lists what one argument position accepts; prefix is what has
// been typed of it.
type candidates func(f *Factory, cmd *cobra.Command, args []string, prefix string) []string

// positional completes each argument position with its own candidates.
// With repeat, the last one completes every later position too, leaving
// out what was already given. Past the last position nothing is offered.
func positional(f *Factory, repeat bool, each ...candidates) completeFunc {
	return func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		i := len(args)
		if i >= len(each) {
			if !repeat {
				return nil, noFiles
			}
			i = len(each) - 1
		}
		out := each[i](f, cmd, args, prefix)
		if repeat && i == len(each)-1 {
			given := args[len(each)-1:]
			out = slices.DeleteFunc(out, func(s string) bool {
				name, _, _ := strings.Cut(s, "\t")
				return slices.Contains(given, name)
			})
		}
		return out, noFiles
	}
}

// noArgs completes nothing: for commands without arguments, and for
// arguments that are new names (user create EMAIL, role create NAME).
func noArgs(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, noFiles
}

// fileArg completes a command's one argument, which names a file, as the
// shell would.
func fileArg(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	return nil, cobra.ShellCompDirectiveDefault
}

// completeUsers completes USER arguments and flags with any account's
// handle: a person's email or a service account's name.
func completeUsers(f *Factory) completeFunc { return positional(f, false, anyUser) }

// completePeople completes a USER that must be a person (a password, a
// reset link): no service account.
func completePeople(f *Factory) completeFunc { return positional(f, false, anyPerson) }

// users lists the emails of people with status (any when ""), starting
// with prefix, at most 100.
func users(status roster.Status) candidates { return accounts(roster.KindPerson, status) }

// accounts lists the handles (emails, or service accounts' names) of the
// accounts of kind (any when "") with status (any when ""), starting with
// prefix, at most 100.
func accounts(kind roster.Kind, status roster.Status) candidates {
	return func(f *Factory, cmd *cobra.Command, _ []string, prefix string) []string {
		return f.userEmails(cmd, roster.UserFilter{Kind: kind, Status: status, Search: prefix, Limit: 100}, prefix)
	}
}

var (
	anyUser         = accounts("", "")
	activeUser      = accounts("", roster.StatusActive)
	deactivatedUser = accounts("", roster.StatusDeactivated)
	invitedUser     = users(roster.StatusInvited)
	expiredUser     = accounts("", roster.StatusExpired)
	anyPerson       = users("")
	anyService      = accounts(roster.KindService, "")
	activeService   = accounts(roster.KindService, roster.StatusActive)
)

// fixed offers the same values at one position, whatever came before.
func fixed(values ...string) candidates {
	return func(*Factory, *cobra.Command, []string, string) []string { return slices.Clone(values) }
}

// reactivatableUser: deactivated and expired users.
func reactivatableUser(f *Factory, cmd *cobra.Command, args []string, prefix string) []string {
	return append(deactivatedUser(f, cmd, args, prefix), expiredUser(f, cmd, args, prefix)...)
}

// deactivatableUser: active and invited users; a deactivated one is
// already so.
func deactivatableUser(f *Factory, cmd *cobra.Command, args []string, prefix string) []string {
	return append(activeUser(f, cmd, args, prefix), invitedUser(f, cmd, args, prefix)...)
}

func (f *Factory) userEmails(cmd *cobra.Command, filter roster.UserFilter, prefix string) []string {
	svc, err := f.Service(cmd.Context())
	if err != nil {
		return nil
	}
	page, err := svc.ListUsers(cmd.Context(), filter)
	if err != nil {
		return nil
	}
	var out []string
	for _, u := range page.Items {
		if strings.HasPrefix(strings.ToLower(u.Handle()), strings.ToLower(prefix)) {
			out = append(out, u.Handle())
		}
	}
	return out
}

// member lists the members of the project named first; nonMember the
// users who are not.
func member(f *Factory, cmd *cobra.Command, args []string, prefix string) []string {
	return f.userEmails(cmd, roster.UserFilter{Project: args[0], Search: prefix, Limit: 100}, prefix)
}

func nonMember(f *Factory, cmd *cobra.Command, args []string, prefix string) []string {
	in := member(f, cmd, args, prefix)
	return slices.DeleteFunc(anyUser(f, cmd, args, prefix), func(e string) bool { return slices.Contains(in, e) })
}

// holder lists the holders of the role named first; nonHolder the users
// who do not hold it.
func holder(f *Factory, cmd *cobra.Command, args []string, prefix string) []string {
	return f.userEmails(cmd, roster.UserFilter{Role: args[0], Search: prefix, Limit: 100}, prefix)
}

func nonHolder(f *Factory, cmd *cobra.Command, args []string, prefix string) []string {
	in := holder(f, cmd, args, prefix)
	return slices.DeleteFunc(anyUser(f, cmd, args, prefix), func(e string) bool { return slices.Contains(in, e) })
}

// pendingInvitation lists the emails of invitations that can be revoked.
func pendingInvitation(f *Factory, cmd *cobra.Command, _ []string, prefix string) []string {
	svc, err := f.Service(cmd.Context())
	if err != nil {
		return nil
	}
	invs, err := svc.ListInvitations(cmd.Context(), roster.InvitePending)
	if err != nil {
		return nil
	}
	var out []string
	for _, i := range invs {
		if strings.HasPrefix(strings.ToLower(i.Email), strings.ToLower(prefix)) {
			out = append(out, i.Email)
		}
	}
	return out
}

// roles lists role names with their descriptions; custom leaves out the
// built-in ones, which cannot be changed or deleted (R6).
func roles(custom bool) candidates {
	return func(f *Factory, cmd *cobra.Command, _ []string, _ string) []string {
		svc, err := f.Service(cmd.Context())
		if err != nil {
			return nil
		}
		rs, err := svc.ListRoles(cmd.Context())
		if err != nil {
			return nil
		}
		var out []string
		for _, r := range rs {
			if !custom || !r.Builtin {
				out = append(out, r.Name+"\t"+r.Description)
			}
		}
		return out
	}
}

var (
	anyRole    = roles(false)
	customRole = roles(true)
)

func completeRoles(f *Factory) completeFunc { return positional(f, false, anyRole) }

// permissions lists permission names; app leaves out roster's own, which
// cannot be deleted.
func permissions(app bool) candidates {
	return func(f *Factory, cmd *cobra.Command, _ []string, _ string) []string {
		svc, err := f.Service(cmd.Context())
		if err != nil {
			return nil
		}
		ps, err := svc.ListPermissions(cmd.Context())
		if err != nil {
			return nil
		}
		var out []string
		for _, p := range ps {
			if !app || !p.Builtin {
				out = append(out, p.Name+"\t"+p.Description)
			}
		}
		return out
	}
}

var (
	anyPermission = permissions(false)
	appPermission = permissions(true)
)

func completePermissions(f *Factory) completeFunc { return positional(f, false, anyPermission) }

// projects lists project slugs with their names: all, or only those
// archived (or not).
func projects(only func(roster.Project) bool) candidates {
	return func(f *Factory, cmd *cobra.Command, _ []string, _ string) []string {
		svc, err := f.Service(cmd.Context())
		if err != nil {
			return nil
		}
		ps, err := svc.ListProjects(cmd.Context())
		if err != nil {
			return nil
		}
		var out []string
		for _, p := range ps {
			if only == nil || only(p) {
				out = append(out, p.Slug+"\t"+strings.TrimSpace(p.Name))
			}
		}
		return out
	}
}

var (
	anyProject      = projects(nil)
	openProject     = projects(func(p roster.Project) bool { return !p.Archived })
	archivedProject = projects(func(p roster.Project) bool { return p.Archived })
)

func completeProjects(f *Factory) completeFunc { return positional(f, false, anyProject) }

// orgs lists organisation slugs with their names: all, or only those
// the command acts on. Without orgs.view a caller lists only their own.
func orgs(only func(roster.Org) bool) candidates {
	return func(f *Factory, cmd *cobra.Command, _ []string, _ string) []string {
		// Organisations are listed from one's own, whatever --org says.
		svc, err := f.serviceIn(cmd.Context(), false, "")
		if err != nil {
			return nil
		}
		list, err := svc.ListOrgs(cmd.Context())
		if err != nil {
			return nil
		}
		var out []string
		for _, o := range list {
			if only == nil || only(o) {
				out = append(out, o.Slug+"\t"+strings.TrimSpace(o.Name))
			}
		}
		return out
	}
}

var (
	anyOrg = orgs(nil)
	// activeOrg: those suspend acts on; the system organisation cannot be
	// suspended.
	activeOrg    = orgs(func(o roster.Org) bool { return o.Status == roster.OrgActive && !o.System })
	suspendedOrg = orgs(func(o roster.Org) bool { return o.Status == roster.OrgSuspended })
	deletableOrg = orgs(func(o roster.Org) bool { return !o.System })
)

// liveToken lists the ids of tokens not revoked, with their names and
// users: those revoke and rotate act on.
func liveToken(f *Factory, cmd *cobra.Command, _ []string, _ string) []string {
	svc, err := f.Service(cmd.Context())
	if err != nil {
		return nil
	}
	ts, err := svc.ListTokens(cmd.Context(), roster.TokenFilter{})
	if err != nil {
		return nil
	}
	var out []string
	for _, t := range ts {
		if !t.Revoked {
			desc := t.User
			if t.Name != "" {
				desc = t.Name + " (" + t.User + ")"
			}
			out = append(out, strconv.FormatInt(t.ID, 10)+"\t"+desc)
		}
	}
	return out
}

// savedContext lists the contexts of the config file.
func savedContext(f *Factory, _ *cobra.Command, _ []string, _ string) []string {
	cfg, err := f.Config()
	if err != nil {
		return nil
	}
	var out []string
	for n, c := range cfg.Contexts {
		out = append(out, n+"\t"+c.Server)
	}
	slices.Sort(out)
	return out
}

func completeContexts(f *Factory) completeFunc { return positional(f, false, savedContext) }

// savedServer lists the servers of the saved contexts, for login.
func savedServer(f *Factory, _ *cobra.Command, _ []string, _ string) []string {
	cfg, err := f.Config()
	if err != nil {
		return nil
	}
	var out []string
	for _, c := range cfg.Contexts {
		if !slices.Contains(out, c.Server) {
			out = append(out, c.Server)
		}
	}
	slices.Sort(out)
	return out
}

// fixedCompletion completes from a fixed list.
func fixedCompletion(values ...string) completeFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return slices.Clone(values), noFiles
	}
}

// auditActions are the actions the audit log records (docs/json.md), and
// their families, for audit list --action. TestAuditActions checks the
// list against the actions the core writes.
var auditActions = []string{
	"account.password", "account.signin", "account.signin_link", "account.signin_link.send", "account.signin_refused",
	"account.signout", "audit.prune",
	"device.approve", "device.deny", "device.request", "device.token",
	"invite.accept", "invite.create", "invite.resend", "invite.revoke", "invite.send",
	"org.create", "org.delete", "org.resume", "org.suspend", "org.update",
	"permission.create", "permission.delete",
	"project.archive", "project.create", "project.delete", "project.member.add", "project.member.remove",
	"project.unarchive", "project.update",
	"role.assign", "role.create", "role.delete", "role.reassign", "role.unassign", "role.update",
	"settings.set", "store.init",
	"token.create", "token.revoke", "token.rotate",
	"user.create", "user.deactivate", "user.delete", "user.reactivate", "user.set_expiry", "user.reset_link", "user.reset_link.send",
	"user.reset_password", "user.set_password", "user.set_role", "user.update",
}

func completeActions(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, a := range auditActions {
		family := strings.SplitN(a, ".", 2)[0] + ".*"
		if !slices.Contains(out, family) {
			out = append(out, family)
		}
	}
	return append(out, auditActions...), noFiles
}

// fileFlags are the flags whose values name files: the shell completes
// them. Every other flag completes from its own list, or not at all.
var fileFlags = []string{"db", "config", "token-file", "password-file", "current-password-file",
	"link-file", "file", "tls-cert", "tls-key", "mail-password-file"}

// completeTheRest gives every command and flag of the tree that has no
// completion of its own one that offers nothing, rather than cobra's
// default of local file names; flags and arguments naming files keep it.
func completeTheRest(c *cobra.Command) {
	if c.ValidArgsFunction == nil && len(c.ValidArgs) == 0 {
		c.ValidArgsFunction = noArgs
	}
	for _, fs := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
		fs.VisitAll(func(fl *pflag.Flag) {
			if fl.NoOptDefVal != "" || slices.Contains(fileFlags, fl.Name) {
				return
			}
			if _, ok := c.GetFlagCompletionFunc(fl.Name); !ok {
				_ = c.RegisterFlagCompletionFunc(fl.Name, noArgs)
			}
		})
	}
	for _, sub := range c.Commands() {
		completeTheRest(sub)
	}
}
