package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
)

func newCmdToken(f *Factory) *cobra.Command {
	return withExample(group("token", "tokens", "Create, list, revoke and rotate API tokens",
		newCmdTokenCreate(f),
		newCmdTokenList(f),
		newCmdTokenRevoke(f),
		newCmdTokenRotate(f),
	), `  roster token create --name deploy --expires 30d > deploy.token
  roster token list
  roster token revoke 7`)
}

var tokenHeader = []string{"ID", "USER", "NAME", "CREATED", "EXPIRES", "LAST_USED", "REVOKED"}

func tokenRows(ts []roster.APIToken) output.Rows {
	r := output.Rows{Header: tokenHeader}
	for _, t := range ts {
		id := strconv.FormatInt(t.ID, 10)
		r.Add(id, id, t.User, t.Name, formatTime(&t.CreatedAt), formatTime(t.ExpiresAt), formatTime(t.LastUsedAt), strconv.FormatBool(t.Revoked))
	}
	return r
}

// printSecretToken prints a new token: in text formats the secret alone
// (it is what the command exists to show), in json and yaml the object.
func (f *Factory) printSecretToken(t roster.APIToken) error {
	p, err := f.Printer()
	if err != nil {
		return err
	}
	f.infof("token %d for %s is shown once; store it now", t.ID, t.User)
	if p.Format == output.JSON || p.Format == output.YAML {
		return p.One(t, tokenRows([]roster.APIToken{t}))
	}
	_, err = fmt.Fprintln(f.IO.Out, t.Token)
	return err
}

func parseTokenID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("invalid token id %q", s).withHint("see roster token list")
	}
	return id, nil
}

func newCmdTokenCreate(f *Factory) *cobra.Command {
	var p roster.CreateToken
	var expires string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API token, shown once",
		Long: `Create an API token for yourself, or with --user for someone else (needs
tokens.manage, and every permission that user holds). A token acts with its
user's current permissions until it expires (default 90 days), is revoked,
or its user is deactivated. The token is printed once.`,
		Example: `  roster --as ci@example.com token create --name deploy --expires 30d > token.txt`,
		Args:    exactArgs(0),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			if expires != "" {
				d, err := roster.ParseDuration(expires)
				if err != nil || d <= 0 {
					return usagef("invalid --expires %q", expires).withHint("give a duration such as 30d or 12h")
				}
				p.TTL = d
			}
			t, err := svc.CreateToken(cmd.Context(), p)
			if err != nil {
				return err
			}
			return f.printSecretToken(t)
		}),
	}
	cmd.Flags().StringVar(&p.User, "user", "", "make the token for `USER` (default: yourself)")
	cmd.Flags().StringVar(&p.Name, "name", "", "what the token is for")
	cmd.Flags().StringVar(&expires, "expires", "", "lifetime, such as 90d (default 90d, at most 3650d)")
	_ = cmd.RegisterFlagCompletionFunc("user", positional(f, false, activeUser))
	return cmd
}

func newCmdTokenList(f *Factory) *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their secrets)",
		Example: `  roster token list
  roster token list --user ci@example.com -o json`,
		Args: exactArgs(0),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			ts, err := svc.ListTokens(cmd.Context(), user)
			if err != nil {
				return err
			}
			return f.printList(ts, tokenRows(ts))
		}),
	}
	cmd.Flags().StringVar(&user, "user", "", "the tokens of `USER` (default: yours; all for the local administrator)")
	_ = cmd.RegisterFlagCompletionFunc("user", completeUsers(f))
	return cmd
}

func newCmdTokenRevoke(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "revoke ID",
		Short:             "Revoke an API token: it stops working at once",
		Example:           `  roster token revoke 7`,
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: positional(f, false, liveToken),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			id, err := parseTokenID(args[0])
			if err != nil {
				return err
			}
			res, err := svc.RevokeToken(cmd.Context(), id)
			if err != nil {
				return err
			}
			if res.Changed {
				f.infof("revoked token %d", id)
			} else {
				f.infof("token %d is already revoked, unchanged", id)
			}
			return f.printOne(res.Token, tokenRows([]roster.APIToken{res.Token}))
		}),
	}
}

func newCmdTokenRotate(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "rotate ID",
		Short:             "Give an API token a new secret, shown once; the old one stops working",
		Example:           `  roster token rotate 7 > deploy.token`,
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: positional(f, false, liveToken),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			id, err := parseTokenID(args[0])
			if err != nil {
				return err
			}
			t, err := svc.RotateToken(cmd.Context(), id)
			if err != nil {
				return err
			}
			return f.printSecretToken(t)
		}),
	}
}
