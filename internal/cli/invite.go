package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
)

func newCmdInvite(f *Factory) *cobra.Command {
	return withExample(group("invite", "invites", "Invite people, and resend, revoke or accept invitations",
		newCmdInviteCreate(f),
		newCmdInviteList(f),
		newCmdInviteResend(f),
		newCmdInviteRevoke(f),
		newCmdInviteAccept(f),
	), `  roster invite create dana@example.com --role manager > dana.link
  roster invite list --status pending`)
}

var invitationHeader = []string{"EMAIL", "NAME", "ROLES", "STATUS", "INVITED_BY", "CREATED", "EXPIRES"}

func invitationRows(invs []roster.Invitation) output.Rows {
	r := output.Rows{Header: invitationHeader}
	for _, i := range invs {
		r.Add(i.Email, i.Email, i.Name, strings.Join(i.Roles, ","), string(i.Status), i.InvitedBy,
			formatTime(&i.CreatedAt), formatTime(&i.ExpiresAt))
	}
	return r
}

// parseTTL reads an --expires value; empty means the setting's default.
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := roster.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, usagef("invalid --expires %q", s).withHint("give a duration such as 30m, 24h or 7d")
	}
	return d, nil
}

// linkText is how a text format shows a new link: its URL, or, with no
// base_url set, its token.
func linkText(url, tok string) string {
	if url != "" {
		return url
	}
	return tok
}

// printLinks prints new invitations or reset links. A link is the secret
// the command exists to show: text formats print it alone, once per line;
// json and yaml print the objects. A mailed link is not printed at all.
// Mail failures are reported, and make the exit code 7.
func (f *Factory) printLinks(v any, n int, several bool, link func(i int) (email, url, tok string, sent bool, mailErr string), resendHint string) error {
	p, err := f.Printer()
	if err != nil {
		return err
	}
	var failed error
	for i := range n {
		email, url, tok, sent, mailErr := link(i)
		switch {
		case mailErr != "":
			f.IO.Infof("the link for %s was made but not mailed: %s", email, mailErr)
			f.IO.Infof("hint: fix the mail settings and send a new link with %s %s --send", resendHint, email)
			failed = &silentError{code: ExitUnavailable}
		case sent:
			f.infof("mailed the link to %s", email)
		case tok == "":
			// Found by --if-not-exists: there is no new link to show.
		case url == "":
			f.infof("the link for %s is shown once; set base_url to get web links", email)
		default:
			f.infof("the link for %s is shown once", email)
		}
	}
	switch p.Format {
	case output.JSON, output.YAML, output.Name, output.CSV:
		// -o name lists identifiers for xargs: the emails, never a secret.
		rows := output.Rows{Header: []string{"EMAIL", "LINK"}}
		for i := range n {
			email, url, tok, sent, _ := link(i)
			if sent {
				tok = ""
			}
			rows.Add(email, email, linkText(url, tok))
		}
		if err := p.List(v, rows); err != nil {
			return err
		}
		return failed
	}
	// One link is printed alone, for tok=$(roster …); several are paired
	// with their emails, so that a failure in between cannot shift them.
	for i := range n {
		email, url, tok, sent, _ := link(i)
		switch {
		case sent || tok == "":
		case several:
			fmt.Fprintf(f.IO.Out, "%s\t%s\n", email, linkText(url, tok))
		default:
			fmt.Fprintln(f.IO.Out, linkText(url, tok))
		}
	}
	return failed
}

// printInvitations prints invitations made or resent.
func (f *Factory) printInvitations(invs []roster.Invitation, single bool) error {
	for i := range invs {
		if invs[i].Existing != nil {
			f.created(invs[i].Email, invs[i].Existing)
		}
		if invs[i].Sent || invs[i].MailError != "" {
			invs[i].Token, invs[i].URL = "", ""
		}
	}
	var v any = invs
	if single && len(invs) == 1 {
		v = invs[0]
	}
	return f.printLinks(v, len(invs), !single, func(i int) (string, string, string, bool, string) {
		return invs[i].Email, invs[i].URL, invs[i].Token, invs[i].Sent, invs[i].MailError
	}, "roster invite resend")
}

type inviteCreateOptions struct {
	params  roster.CreateInvitation
	expires string
}

func newCmdInviteCreate(f *Factory) *cobra.Command {
	opts := &inviteCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create EMAIL...",
		Short: "Invite people: each gets a single-use link to set a password",
		Long: `Invite people. Each becomes a user with status invited and gets a single-use
link, valid 7 days by default (setting invite.ttl), to choose a password and
become active.

Without --send the link is printed once: its URL under base_url, or the
token for roster invite accept --link-file when no base_url is set; with several
emails, each line is the email, a tab, and its link. With --send it is
mailed (settings mail.*) and not printed. If mailing fails the invitation
stands; send a new link with roster invite resend.

With --if-not-exists a person already invited, or already a user, is left as
they are: no new link, exit 0, and any difference from what was asked is
reported on stderr.`,
		Example: `  roster invite create ann@example.com bob@example.com --role manager
  roster invite create carol@example.com --name Carol --expires 3d --send`,
		Args: minArgs(1, "EMAIL..."),
		RunE: func(cmd *cobra.Command, args []string) error {
			ttl, err := parseTTL(opts.expires)
			if err != nil {
				return err
			}
			opts.params.TTL = ttl
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			invs, failed := eachTarget(cmd.Context(), f, cmd.CommandPath(), args, func(email string) (roster.Invitation, error) {
				p := opts.params
				p.Email = email
				return svc.CreateInvitation(cmd.Context(), p)
			})
			return printThen(len(invs), func() error { return f.printInvitations(invs, len(args) == 1) }, failed)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&opts.params.Roles, "role", nil, "give `ROLE` on acceptance (repeatable; default member)")
	fs.StringVar(&opts.params.Name, "name", "", "display `name` of the person invited")
	fs.StringArrayVar(&opts.params.Projects, "project", nil, "add the person to `PROJECT` (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("project", completeProjects(f))
	fs.StringVar(&opts.expires, "expires", "", "lifetime of the link, such as 7d or 12h (default: setting invite.ttl)")
	fs.BoolVar(&opts.params.Send, "send", false, "mail the link instead of printing it")
	fs.BoolVar(&opts.params.IfNotExists, "if-not-exists", false, "succeed without change for people already invited or already users")
	_ = cmd.RegisterFlagCompletionFunc("role", completeRoles(f))
	return cmd
}

func newCmdInviteList(f *Factory) *cobra.Command {
	var status string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List invitations, newest first",
		Example: `  roster invite list --status pending
  roster invite list --status expired -o name | xargs roster invite resend --send --`,
		Args: exactArgs(0),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			invs, err := svc.ListInvitations(cmd.Context(), roster.InviteStatus(status))
			if err != nil {
				return err
			}
			return f.printList(invs, invitationRows(invs))
		}),
	}
	cmd.Flags().StringVar(&status, "status", "", "only invitations that are `status`: pending, accepted, expired or revoked")
	_ = cmd.RegisterFlagCompletionFunc("status", fixedCompletion("pending", "accepted", "expired", "revoked"))
	return cmd
}

func newCmdInviteResend(f *Factory) *cobra.Command {
	var expires string
	var send bool
	cmd := &cobra.Command{
		Use:   "resend EMAIL...",
		Short: "Make a new invitation link; the old one stops working",
		Long: `Make a new link for invited people, valid 24 hours by default (setting
invite.resend_ttl). Their previous links stop working at once. The link is
printed once, or mailed with --send.`,
		Example: `  roster invite resend dana@example.com --expires 3d > dana.link
  roster invite resend dana@example.com --send`,
		Args:              minArgs(1, "EMAIL..."),
		ValidArgsFunction: positional(f, true, invitedUser),
		RunE: func(cmd *cobra.Command, args []string) error {
			ttl, err := parseTTL(expires)
			if err != nil {
				return err
			}
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			invs, failed := eachTarget(cmd.Context(), f, cmd.CommandPath(), args, func(email string) (roster.Invitation, error) {
				return svc.ResendInvitation(cmd.Context(), email, ttl, send)
			})
			return printThen(len(invs), func() error { return f.printInvitations(invs, len(args) == 1) }, failed)
		},
	}
	cmd.Flags().StringVar(&expires, "expires", "", "lifetime of the new link (default: setting invite.resend_ttl)")
	cmd.Flags().BoolVar(&send, "send", false, "mail the link instead of printing it")
	return cmd
}

func newCmdInviteRevoke(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke EMAIL...",
		Short: "Revoke pending invitations",
		Long:  "Revoke pending invitations: their links stop working. The invited users stay, and can be deleted.",
		Example: `  roster invite revoke dana@example.com
  roster invite revoke dana@example.com && roster user delete dana@example.com --yes`,
		Args:              minArgs(1, "EMAIL..."),
		ValidArgsFunction: positional(f, true, pendingInvitation),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			invs, failed := eachTarget(cmd.Context(), f, cmd.CommandPath(), args, func(email string) (roster.Invitation, error) {
				res, err := svc.RevokeInvitation(cmd.Context(), email)
				if err != nil {
					return res.Invitation, err
				}
				if res.Changed {
					f.infof("revoked the invitation of %s", res.Invitation.Email)
				} else {
					f.infof("%s: no pending invitation (%s), unchanged", res.Invitation.Email, res.Invitation.Status)
				}
				return res.Invitation, nil
			})
			return printThen(len(invs), func() error {
				var v any = invs
				if len(args) == 1 {
					v = invs[0]
				}
				return f.printOne(v, invitationRows(invs))
			}, failed)
		}),
	}
}

type acceptOptions struct {
	params roster.AcceptInvitation
	redemption
}

func newCmdInviteAccept(f *Factory) *cobra.Command {
	opts := &acceptOptions{redemption: redemption{link: linkSource{kind: inviteLink}}}
	cmd := &cobra.Command{
		Use:   "accept [LINK]",
		Short: "Accept an invitation: choose a password and become active",
		Long: `Accept an invitation with its link: the URL (base_url/invite/TOKEN) or the
bare token, read from --link-file FILE, or from standard input with
--link-file -. A link given as an argument still works but warns: other
users of this machine can read a command line. A link works once.

The password comes from --password-stdin, --password-file or a prompt on
the terminal. Standard input carries one secret: --link-file - and
--password-stdin cannot be used together.`,
		Example: `  roster invite accept --link-file invite.txt --name "Ann Lee" --username ann --password-file pw.txt
  pbpaste | roster invite accept --link-file -`,
		Args: maxArgs(1, "LINK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.check(f, args); err != nil {
				return err
			}
			return inviteAcceptRun(cmd, f, opts, args)
		},
	}
	cmd.Flags().StringVar(&opts.params.Name, "name", "", "your display `name`")
	cmd.Flags().StringVar(&opts.params.Username, "username", "", "your `username`")
	opts.addFlags(cmd)
	return cmd
}

func inviteAcceptRun(cmd *cobra.Command, f *Factory, opts *acceptOptions, args []string) error {
	svc, err := opts.read(cmd.Context(), f, args)
	if err != nil {
		return err
	}
	opts.params.Token, opts.params.Password = opts.token, opts.secret
	u, err := svc.AcceptInvitation(cmd.Context(), opts.params)
	if err != nil {
		return err
	}
	return f.printUserResults([]roster.UserResult{{User: u, Changed: true}}, true, "accepted the invitation; active now:", "")
}

func newCmdUserResetLink(f *Factory) *cobra.Command {
	var expires string
	var send bool
	cmd := &cobra.Command{
		Use:   "reset-link USER",
		Short: "Make a single-use link for a user to set a new password",
		Long: `Make a single-use link, valid 24 hours by default (setting reset.ttl), with
which the user sets a new password: in a browser under base_url, or with
roster account reset --link-file FILE. It replaces the user's earlier reset links. An
account created without a password is completed the same way.`,
		Example:           `  roster user reset-link bob@example.com --send`,
		Args:              exactArgs(1, "USER"),
		ValidArgsFunction: completePeople(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			ttl, err := parseTTL(expires)
			if err != nil {
				return err
			}
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			rl, err := svc.CreateResetLink(cmd.Context(), args[0], ttl, send)
			if err != nil {
				return err
			}
			if rl.Sent || rl.MailError != "" {
				rl.Token, rl.URL = "", ""
			}
			return f.printLinks(rl, 1, false, func(int) (string, string, string, bool, string) {
				return rl.Email, rl.URL, rl.Token, rl.Sent, rl.MailError
			}, "roster user reset-link")
		},
	}
	cmd.Flags().StringVar(&expires, "expires", "", "lifetime of the link, such as 24h (default: setting reset.ttl)")
	cmd.Flags().BoolVar(&send, "send", false, "mail the link instead of printing it")
	return cmd
}

type accountResetOptions struct {
	redemption
}

func newCmdAccount(f *Factory) *cobra.Command {
	return withExample(group("account", "accounts", "Your own account", newCmdAccountShow(f), newCmdAccountUpdate(f), newCmdAccountPassword(f), newCmdAccountReset(f)),
		`  roster --as dana@example.com account show
  roster --as dana@example.com account update --name "Dana Scully"`)
}

func newCmdAccountReset(f *Factory) *cobra.Command {
	opts := &accountResetOptions{redemption{link: linkSource{kind: resetLink}}}
	cmd := &cobra.Command{
		Use:   "reset [LINK]",
		Short: "Set a new password with a reset link",
		Long: `Set a new password with a reset link: the URL (base_url/reset/TOKEN) or the
bare token, read from --link-file FILE, or from standard input with
--link-file -. A link given as an argument still works but warns: other
users of this machine can read a command line. A link works once.

The password comes from --password-stdin, --password-file or a prompt on
the terminal. Standard input carries one secret: --link-file - and
--password-stdin cannot be used together.`,
		Example: `  roster account reset --link-file reset.txt --password-file new-pw.txt
  pbpaste | roster account reset --link-file -`,
		Args: maxArgs(1, "LINK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.check(f, args); err != nil {
				return err
			}
			return accountResetRun(cmd, f, opts, args)
		},
	}
	opts.addFlags(cmd)
	return cmd
}

func accountResetRun(cmd *cobra.Command, f *Factory, opts *accountResetOptions, args []string) error {
	svc, err := opts.read(cmd.Context(), f, args)
	if err != nil {
		return err
	}
	u, err := svc.RedeemResetLink(cmd.Context(), opts.token, opts.secret)
	if err != nil {
		return err
	}
	return f.printUserResults([]roster.UserResult{{User: u, Changed: true}}, true, "set a new password for", "")
}

// accountView is what account show prints: the principal and the
// notices the user had not seen.
type accountView struct {
	roster.Principal
	Notices []roster.Notice `json:"notices"`
}

func newCmdAccountShow(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Show who you act as, your permissions and what changed",
		Long: `Show the account roster acts as: the --as user in local mode, the signed-in
user remotely, or the local administrator without --as; with its effective
permissions, its last sign-in, and notices of the changes others made to its
roles and projects since it last looked (which are then marked seen).`,
		Example: `  roster --as dana@example.com account show
  roster --server https://roster.example.com account show -o json`,
		Args: exactArgs(0),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			p, err := svc.Whoami(cmd.Context())
			if err != nil {
				return err
			}
			notices, err := svc.Notices(cmd.Context(), true)
			if err != nil {
				return err
			}
			if p.Scope != nil {
				f.infof("this token is scoped to %s; of your permissions it leaves out %s",
					strings.Join(p.Scope, ","), orNone(p.ScopeRemoved))
			}
			v := accountView{Principal: p, Notices: notices}
			return f.printOne(v, accountRows(v))
		}),
	}
}

func newCmdAccountPassword(f *Factory) *cobra.Command {
	var pw passwordSource
	var currentFile, currentEnv string
	var revokeTokens bool
	cmd := &cobra.Command{
		Use:   "password",
		Short: "Change your own password, giving the current one",
		Long: `Change your own password. The current password comes from
--current-password-file, --current-password-env or a prompt; the new one
from --password-stdin, --password-file, --password-env or a prompt.
Without a terminal both must come from flags.

It ends your browser sessions and your pending sign-in and reset links
(R18). Your API tokens are separate credentials and stay, unless
--revoke-tokens is given.`,
		Example: `  roster --as ann@example.com account password --current-password-file old.txt --password-file new.txt
  roster account password --current-password-env OLD_PW --password-env NEW_PW --revoke-tokens`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			current := passwordSource{file: currentFile, env: currentEnv}
			if (!current.given() || !pw.given()) && !f.IO.CanPrompt() {
				return usagef("no password source and no terminal to ask on").
					withHint("give --current-password-file or --current-password-env, and one of --password-stdin, --password-file or --password-env")
			}
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			var cur string
			if current.given() {
				cur, err = current.read(f)
			} else {
				cur, err = f.IO.Secret("Current password: ")
			}
			if err != nil {
				return err
			}
			next, err := pw.read(f)
			if err != nil {
				return err
			}
			u, err := svc.ChangePassword(cmd.Context(), roster.ChangePassword{Current: cur, New: next, RevokeTokens: revokeTokens})
			if err != nil {
				return err
			}
			return f.printUserResults([]roster.UserResult{{User: u, Changed: true}}, true, "changed the password of", "")
		},
	}
	cmd.Flags().StringVar(&currentFile, "current-password-file", "", "read the current password from `file`")
	cmd.Flags().BoolVar(&revokeTokens, "revoke-tokens", false, "revoke your API tokens too (R18)")
	cmd.Flags().StringVar(&currentEnv, "current-password-env", "", "read the current password from the environment variable `NAME`")
	cmd.MarkFlagsMutuallyExclusive("current-password-file", "current-password-env")
	pw.addFlags(cmd, false, false)
	return cmd
}

func accountRows(v accountView) output.Rows {
	p := v.Principal
	email, roles, last := "", "", ""
	if p.User != nil {
		email, roles = p.User.Email, strings.Join(p.User.Roles, ",")
		if at := p.User.LastLoginAt; at != nil {
			last = at.UTC().Format(time.RFC3339) + " (" + p.User.LastLoginMethod + ")"
		}
	}
	notices := make([]string, len(v.Notices))
	for i, n := range v.Notices {
		notices[i] = n.At.UTC().Format(time.RFC3339) + " " + n.Actor + " " + n.Text
	}
	rows := output.Rows{Header: []string{"NAME", "VIA", "EMAIL", "ROLES", "PERMISSIONS", "PASSWORD", "LAST SIGN-IN", "NOTICES"}}
	policy := fmt.Sprintf("%d-%d characters", p.PasswordPolicy.MinLength, p.PasswordPolicy.MaxLength)
	rows.Add(p.Name, p.Name, p.Via, email, roles, strings.Join(p.Permissions, ","), policy, last, strings.Join(notices, "\n"))
	return rows
}

// orNone lists names, or says there are none.
func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

func principalRows(p roster.Principal) output.Rows { return accountRows(accountView{Principal: p}) }
