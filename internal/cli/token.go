package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

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

var tokenHeader = []string{"ID", "USER", "NAME", "CREATED", "EXPIRES", "LAST_USED", "REVOKED", "LAST_USED_FROM", "SCOPE"}

func tokenRows(ts []roster.APIToken) output.Rows {
	r := output.Rows{Header: tokenHeader}
	for _, t := range ts {
		id := strconv.FormatInt(t.ID, 10)
		r.Add(id, id, t.User, t.Name, formatTime(&t.CreatedAt), formatTime(t.ExpiresAt), formatTime(t.LastUsedAt), strconv.FormatBool(t.Revoked),
			t.LastUsedFrom, strings.Join(t.Scope, ","))
	}
	return r
}

// expiry reads --expires: a duration from now (30d, 12h), or a date
// (2027-01-31, midnight UTC) or an RFC 3339 time when it ends.
func expiry(v string) (time.Duration, *time.Time, error) {
	if d, err := roster.ParseDuration(v); err == nil {
		if d <= 0 {
			return 0, nil, usagef("invalid --expires %q", v).withHint("give a duration such as 30d, or a date such as 2030-01-31")
		}
		return d, nil, nil
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			t = t.UTC()
			return 0, &t, nil
		}
	}
	return 0, nil, usagef("invalid --expires %q", v).withHint("give a duration such as 30d, or a date such as 2030-01-31")
}

// scopeFlag reads --scope PERM,...: nil when not given, never empty.
func scopeFlag(cmd *cobra.Command, v []string) ([]string, error) {
	if !cmd.Flags().Changed("scope") {
		return nil, nil
	}
	out := []string{}
	for _, p := range v {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, usagef("--scope names no permission").withHint("give --scope users.view,users.create, or leave it out")
	}
	return out, nil
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

// createTokenToFile makes the token file first, so that a file that
// cannot be made leaves no token behind that no one has, then the token;
// the file goes again if the token is not made.
func (f *Factory) createTokenToFile(cmd *cobra.Command, svc roster.Service, p roster.CreateToken, path string) error {
	fh, err := createTokenFile(path, "--file")
	if err != nil {
		return err
	}
	t, err := svc.CreateToken(cmd.Context(), p)
	if err == nil {
		err = writeToken(fh, t.Token)
		if err != nil {
			err = roster.Errorf(roster.ErrUnavailable, "write token file %s: %v", path, err).
				WithHint("revoke token %d with roster token revoke %d and make another", t.ID, t.ID)
		}
	}
	if err != nil {
		fh.Close()
		os.Remove(path)
		return err
	}
	f.infof("wrote token %d for %s to %s", t.ID, t.User, path)
	t.Token = ""
	if pr, err := f.Printer(); err == nil && (pr.Format == output.JSON || pr.Format == output.YAML) {
		return pr.One(t, tokenRows([]roster.APIToken{t}))
	}
	return nil
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
	var expires, file string
	var scope []string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API token, shown once",
		Long: `Create an API token for yourself, or with --user for someone else (needs
tokens.manage, and every permission that user holds). A token acts with its
user's current permissions until it expires (default 90 days, or the
organisation's tokens.max_ttl when that is shorter), is revoked, or its
user is deactivated. The token is printed once.

--scope limits the token to some permissions: at every request it may use
only those of its user's current permissions the scope names, so a role the
user loses later narrows the token too. You can scope a token only with
permissions you hold, and only permissions that exist.

--expires takes a duration (30d, 12h) or a date (2030-01-31, or an RFC 3339
time); more than tokens.max_ttl is refused.

--file writes the token to a new file (mode 0600, never over an existing
one) instead of standard output, for a CI step to read with --token-file.`,
		Example: `  roster --as ci@example.com token create --name deploy --expires 30d > token.txt
  roster token create --user ci@example.com --scope users.view,users.create --expires 1h --file ci.token`,
		Args: exactArgs(0),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			var err error
			if expires != "" {
				if p.TTL, p.ExpiresAt, err = expiry(expires); err != nil {
					return err
				}
			}
			if p.Scope, err = scopeFlag(cmd, scope); err != nil {
				return err
			}
			if file == "" {
				t, err := svc.CreateToken(cmd.Context(), p)
				if err != nil {
					return err
				}
				return f.printSecretToken(t)
			}
			return f.createTokenToFile(cmd, svc, p, file)
		}),
	}
	cmd.Flags().StringVar(&p.User, "user", "", "make the token for `USER` (default: yourself)")
	cmd.Flags().StringVar(&p.Name, "name", "", "what the token is for")
	cmd.Flags().StringVar(&expires, "expires", "", "lifetime such as 30d, or a `DATE` (default 90d, at most tokens.max_ttl)")
	cmd.Flags().StringSliceVar(&scope, "scope", nil, "limit the token to these `PERMISSION`s (comma-separated)")
	cmd.Flags().StringVar(&file, "file", "", "write the token to `FILE` (created 0600, never over an existing file)")
	_ = cmd.RegisterFlagCompletionFunc("user", positional(f, false, activeUser))
	return cmd
}

func newCmdTokenList(f *Factory) *cobra.Command {
	var filter roster.TokenFilter
	var expiring string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their secrets)",
		Long: `List API tokens, with when and from which address each was last used
(recorded at most once a minute; local use records no address).
--expiring 7d lists only live tokens that end within 7 days.`,
		Example: `  roster token list
  roster token list --user ci@example.com -o json
  roster token list --expiring 7d`,
		Args: exactArgs(0),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			if expiring != "" {
				d, err := roster.ParseDuration(expiring)
				if err != nil || d <= 0 {
					return usagef("invalid --expiring %q", expiring).withHint("give a duration such as 7d")
				}
				filter.Expiring = d
			}
			ts, err := svc.ListTokens(cmd.Context(), filter)
			if err != nil {
				return err
			}
			return f.printList(ts, tokenRows(ts))
		}),
	}
	cmd.Flags().StringVar(&filter.User, "user", "", "the tokens of `USER` (default: yours; all for the local administrator)")
	cmd.Flags().StringVar(&expiring, "expiring", "", "only live tokens that end within `DURATION`, such as 7d")
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
	var expires string
	cmd := &cobra.Command{
		Use:   "rotate ID",
		Short: "Give an API token a new secret, shown once; the old one stops working",
		Long: `Give an API token a new secret. It keeps its name and scope, and the
lifetime it had (cut to tokens.max_ttl), unless --expires gives another.`,
		Example: `  roster token rotate 7 > deploy.token
  roster token rotate 7 --expires 30d > deploy.token`,
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: positional(f, false, liveToken),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			p := roster.RotateToken{}
			var err error
			if p.ID, err = parseTokenID(args[0]); err != nil {
				return err
			}
			if expires != "" {
				if p.TTL, p.ExpiresAt, err = expiry(expires); err != nil {
					return err
				}
			}
			t, err := svc.RotateToken(cmd.Context(), p)
			if err != nil {
				return err
			}
			return f.printSecretToken(t)
		}),
	}
	cmd.Flags().StringVar(&expires, "expires", "", "a new lifetime such as 30d, or a `DATE` (default: the one it had)")
	return cmd
}
