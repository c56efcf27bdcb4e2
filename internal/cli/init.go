package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/roster"
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
		Short: "Create the store and its first owner",
		Long: `Create and migrate the store, and create its first owner. Run again on an
initialised store it changes nothing and exits 0, so CI can always call it.

The owner's password comes from --password-stdin, --password-file,
--random-password (printed once on stdout) or a prompt on the terminal.
With --token-file, a new API token of the owner is written to that file
(0600; never over an existing file) for later CI steps; a re-run on an
initialised store makes no token.`,
		Example: `  roster init --owner-email admin@example.com --random-password
  printf '%s' "$ADMIN_PASSWORD" | roster init --owner-email admin@example.com --password-stdin`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return initRun(cmd, f, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.params.OwnerEmail, "owner-email", "", "the first owner's `email`")
	fs.StringVar(&opts.params.OwnerName, "owner-name", "", "the first owner's display `name`")
	fs.StringVar(&opts.tokenFile, "token-file", "", "write an API token of the new owner to `file`")
	opts.password.addFlags(cmd, true, false)
	return cmd
}

func initRun(cmd *cobra.Command, f *Factory, opts *initOptions) error {
	ctx := cmd.Context()
	svc, err := f.service(ctx, true)
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
	if res.Changed {
		cfg, _ := f.Config()
		f.infof("initialised %s", cfg.DB)
		if opts.tokenFile != "" {
			t, err := svc.CreateToken(ctx, roster.CreateToken{User: res.Owner.Email, Name: "init"})
			if err != nil {
				return err
			}
			if err := writeTokenFile(opts.tokenFile, t.Token); err != nil {
				return err
			}
			f.infof("wrote token %d of %s to %s", t.ID, res.Owner.Email, opts.tokenFile)
		}
	} else if opts.tokenFile != "" {
		f.infof("store already initialised: no token written to %s", opts.tokenFile)
	}
	return f.printUserResults([]roster.UserResult{{User: res.Owner, Changed: res.Changed, Password: res.Password}}, true, "created owner", "already the owner of an initialised store")
}
