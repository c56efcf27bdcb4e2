package cli

import (
	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/roster"
)

func newCmdPermission(f *Factory) *cobra.Command {
	return withExample(group("permission", "permissions", "List and register permissions",
		newCmdPermissionList(f),
		newCmdPermissionCreate(f),
		newCmdPermissionDelete(f),
	), `  roster permission create invoices.view --description "see invoices"
  roster permission list`)
}

func (f *Factory) printPermission(p roster.Permission) error {
	return f.printOne(p, permissionRows([]roster.Permission{p}))
}

func newCmdPermissionList(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List roster's permissions and your application's",
		Example: `  roster permission list
  roster permission list -o json | jq -r '.[] | select(.builtin | not) | .name'`,
		Args: exactArgs(0),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			perms, err := svc.ListPermissions(cmd.Context())
			if err != nil {
				return err
			}
			return f.printList(perms, permissionRows(perms))
		}),
	}
}

func newCmdPermissionCreate(f *Factory) *cobra.Command {
	var p roster.CreatePermission
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Register an application permission",
		Long: `Register one of your application's permissions, such as invoices.manage.
--implies makes holders of NAME also hold the implied permissions. With
--if-not-exists an existing permission of that name is left as it is, the
command succeeds, and any difference from what was asked is reported on stderr.`,
		Example: `  roster permission create clients.view --description "see clients"
  roster permission create clients.create --implies clients.view`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p.Name = args[0]
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			out, err := svc.CreatePermission(cmd.Context(), p)
			if err != nil {
				return err
			}
			f.created("permission "+out.Name, out.Existing)
			return f.printPermission(out)
		},
	}
	cmd.Flags().StringVar(&p.Description, "description", "", "what the permission allows")
	cmd.Flags().BoolVar(&p.IfNotExists, "if-not-exists", false, "succeed without change when the permission already exists")
	cmd.Flags().StringArrayVar(&p.Implies, "implies", nil, "`PERMISSION` that this one implies (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("implies", completePermissions(f))
	return cmd
}

func newCmdPermissionDelete(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "delete NAME",
		Short:             "Delete an application permission no role grants",
		Example:           `  roster permission delete invoices.view --yes`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: positional(f, false, appPermission),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.confirm("delete permission " + args[0] + "?"); err != nil {
				return err
			}
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			out, err := svc.DeletePermission(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			f.infof("deleted permission %s", out.Name)
			return f.printPermission(out)
		},
	}
}
