package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

type initOptions struct {
	params    roster.InitParams
	password  passwordSource
	tokenFile string
}

func newCmdInit(f *Factory) *cobra.Command {
	opts := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the store, its system organisation and first owner",
		Long: `Create and migrate the store, and create its first owner. Run again on an
initialised store it changes nothing and exits 0, so CI can always call it.

The store's first organisation is its system organisation, whose owners and
admins manage every other one (roster org): --org names its slug (default
"default") and --org-name its display name.

The owner's password comes from --password-stdin, --password-file,
--random-password or a prompt on the terminal. --random-password prints
the new password alone on stdout, once: run again, init generates none
and prints nothing on stdout, so pw=$(roster init ...) is the password or
empty, never anything else.
With --token-file, a new API token of the owner is written to that file
(created 0600, never over an existing file) for later CI steps. The file
is checked before the store is touched: if it already exists init exits 4,
if its directory is missing 2, if it cannot be written 7, and nothing is
created. A re-run on an initialised store makes no token and does not
look at the file.`,
		Example: `  roster init --owner-email admin@example.com --random-password
  roster init --org acme --org-name "Acme Ltd" --owner-email admin@acme.example --random-password
  printf '%s' "$ADMIN_PASSWORD" | roster init --owner-email admin@example.com --password-stdin --token-file ci.token`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return initRun(cmd, f, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.params.OwnerEmail, "owner-email", "", "the first owner's `email`")
	fs.StringVar(&opts.params.OwnerName, "owner-name", "", "the first owner's display `name`")
	fs.StringVar(&opts.params.OrgName, "org-name", "", "the system organisation's display `name` (its slug is --org, default \"default\")")
	fs.StringVar(&opts.tokenFile, "token-file", "", "write an API token of the new owner to `file`, which must not exist")
	opts.password.addFlags(cmd, true, false)
	return cmd
}

func initRun(cmd *cobra.Command, f *Factory, opts *initOptions) error {
	ctx := cmd.Context()
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	// The password is read only when one is given or the store still needs
	// an owner: a re-run in CI without a source must stay a no-op.
	if opts.password.given() {
		if opts.params.Password, err = opts.password.read(f); err != nil {
			return err
		}
		opts.params.RandomPassword = opts.password.random
	}
	// Every output is checked before the store is touched: a token file
	// that cannot be made must not leave an owner behind whose token no
	// one has. The file is made now, empty, and removed again on failure.
	var tokenFile *os.File
	if opts.tokenFile != "" && cfg.Server == "" {
		done, err := f.initialised(ctx, cfg.DB, cfg.Org)
		if err != nil {
			return err
		}
		if !done {
			if tokenFile, err = createTokenFile(opts.tokenFile, "--token-file"); err != nil {
				return err
			}
			defer func() {
				if tokenFile != nil {
					tokenFile.Close()
					os.Remove(opts.tokenFile)
				}
			}()
		}
	}
	// --org names the organisation init makes, not one to act in: before
	// init there is none.
	opts.params.Org = cfg.Org
	svc, err := f.serviceIn(ctx, true, "")
	if err != nil {
		return err
	}
	res, err := svc.Init(ctx, opts.params)
	if errors.Is(err, roster.ErrPasswordRequired) {
		if !f.IO.CanPrompt() {
			return opts.password.missing()
		}
		if opts.params.Password, err = opts.password.read(f); err != nil {
			return err
		}
		res, err = svc.Init(ctx, opts.params)
	}
	if err != nil {
		return err
	}
	switch {
	case res.Changed:
		f.infof("initialised %s", cfg.DB)
		if tokenFile != nil {
			// The owner is of the organisation init made, which --org names.
			t, err := core.InOrg(svc, cfg.Org).CreateToken(ctx, roster.CreateToken{User: res.Owner.Email, Name: "init"})
			if err != nil {
				return err
			}
			if err := writeToken(tokenFile, t.Token); err != nil {
				return roster.Errorf(roster.ErrUnavailable, "write token file %s: %v", opts.tokenFile, err).
					WithHint("the store is initialised; revoke token %d with roster token revoke %d and make another with roster token create", t.ID, t.ID)
			}
			tokenFile = nil
			f.infof("wrote token %d of %s to %s", t.ID, res.Owner.Email, opts.tokenFile)
		}
	case opts.tokenFile != "":
		f.infof("store already initialised: no token written to %s", opts.tokenFile)
	}
	results := []roster.UserResult{{User: res.Owner, Changed: res.Changed, Password: res.Password}}
	if opts.password.random {
		return f.printGenerated(results, true, "created owner", "already the owner of an initialised store")
	}
	return f.printUserResults(results, true, "created owner", "already the owner of an initialised store")
}

// initialised reports whether the store at path already has an owner,
// without creating it: then init changes nothing and writes no token.
func (f *Factory) initialised(ctx context.Context, path, org string) (bool, error) {
	if _, err := os.Stat(path); !store.IsURL(path) && errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	db, err := f.Store(ctx, false)
	if err != nil {
		return false, err
	}
	admin := core.New(db, core.WithClock(f.now)).As(core.Actor{Name: "local:" + osUser(), Org: org})
	owners, err := admin.ListUsers(ctx, roster.UserFilter{Role: roster.RoleOwner, Limit: 1})
	if org != "" && errors.Is(err, roster.ErrNotFound) {
		return false, nil // the organisation init is to make
	}
	if err != nil {
		return false, err
	}
	return len(owners.Items) > 0, nil
}

// createTokenFile makes path, given by flag, for a new token: 0600, and
// never over an existing file (O_EXCL, which also refuses a symbolic link).
func createTokenFile(path, flag string) (*os.File, error) {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return fh, nil
	}
	dir := filepath.Dir(path)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil, roster.Errorf(roster.ErrConflict, "token file %s already exists; nothing was done", path).
			WithHint("remove it, or give another %s: roster never overwrites a token file", flag)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return nil, usagef("cannot create token file %s: directory %s does not exist; nothing was done", path, dir).
			withHint("create the directory, or give another %s", flag)
	case errors.Is(err, fs.ErrPermission):
		return nil, roster.Errorf(roster.ErrUnavailable, "cannot create token file %s: permission denied; nothing was done", path).
			WithHint("give a %s in a directory you can write to", flag)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return nil, roster.Errorf(roster.ErrUnavailable, "cannot create token file %s: %v; nothing was done", path, err).
		WithHint("give a %s on a writable file system", flag)
}

// writeToken fills the token file made by createTokenFile, and closes it.
func writeToken(fh *os.File, tok string) error {
	if _, err := fmt.Fprintln(fh, tok); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}
