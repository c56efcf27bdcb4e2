package cli

import (
	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/roster"
)

// newCmdAccountUpdate changes the acting user's own name and username,
// which R15 lets everyone do without a permission.
func newCmdAccountUpdate(f *Factory) *cobra.Command {
	var name, username string
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Change your own name or username",
		Long: `Change the name or username of the account roster acts as (the --as user in
local mode, or the signed-in user remotely). Everyone may do this without a
permission (R15); changing an email or links needs users.manage, with
roster user update.`,
		Example: `  roster account update --name "Ann Lee" --username ann`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p roster.UpdateUser
			if cmd.Flags().Changed("name") {
				p.Name = &name
			}
			if cmd.Flags().Changed("username") {
				p.Username = &username
			}
			if p.Name == nil && p.Username == nil {
				return usagef("nothing to update").withHint("give --name or --username")
			}
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			me, err := svc.Whoami(cmd.Context())
			if err != nil {
				return err
			}
			if me.User == nil {
				return usagef("the local administrator has no account to update").
					withHint("act as a user with --as USER, or use roster user update")
			}
			res, err := svc.UpdateUser(cmd.Context(), me.User.Email, p)
			if err != nil {
				return err
			}
			return f.printUserResults([]roster.UserResult{res}, true, "updated", "already so")
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "your new display `name`")
	cmd.Flags().StringVar(&username, "username", "", "your new `username`")
	return cmd
}
