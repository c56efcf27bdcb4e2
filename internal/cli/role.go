package cli

import (
	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/roster"
)

// roleHoldersHelp is R19, said where a role's permissions or a user's
// roles change.
const roleHoldersHelp = `Editing a role's permissions changes the rights of everyone who holds it,
so it acts on every holder: you may add only permissions you hold yourself
(R4), and you must be allowed to act on each current holder, holding every
permission they hold (R14); the refusal names one holder you may not act
on (R19). A user keeps at least one role: taking a user's only role away is
refused, as user set-role with no role is (R19).`

func newCmdRole(f *Factory) *cobra.Command {
	cmd := withExample(group("role", "roles", "List, create, change and assign roles",
		newCmdRoleList(f),
		newCmdRoleShow(f),
		newCmdRoleCreate(f),
		newCmdRoleUpdate(f),
		newCmdRoleDelete(f),
		newCmdRoleAssign(f, "assign", "Give a role to users", "", "assigned", nonHolder,
			`  roster role assign billing bob@example.com carol@example.com`,
			func(cmd *cobra.Command, svc roster.Service, role, ref string) (roster.UserResult, error) {
				return svc.AssignRole(cmd.Context(), role, ref)
			}),
		newCmdRoleAssign(f, "unassign", "Take a role from users", `Take a role from users. A user keeps at least one role: taking a user's
only role is refused, as user set-role with no role is (R19); give them
another role first (roster role assign ROLE USER), or deactivate them.`,
			"unassigned", holder, `  roster role unassign billing bob@example.com`,
			func(cmd *cobra.Command, svc roster.Service, role, ref string) (roster.UserResult, error) {
				return svc.UnassignRole(cmd.Context(), role, ref)
			}),
	), `  roster role create billing --permission invoices.manage --description "billing staff"
  roster role assign billing bob@example.com
  roster role list`)
	cmd.Long = `List, create, change and assign roles. A role is a named set of
permissions; a user holds one or more roles. The built-in roles (owner,
admin, manager, member, viewer) cannot be changed or deleted (R6).

` + roleHoldersHelp
	return cmd
}

func (f *Factory) printRole(r roster.Role) error {
	return f.printOne(r, roleRows([]roster.Role{r}))
}

func newCmdRoleList(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List roles: the built-in ones first",
		Example: `  roster role list
  roster role list -o json | jq -r '.[] | select(.holders == 0) | .name'`,
		Args: exactArgs(0),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			roles, err := svc.ListRoles(cmd.Context())
			if err != nil {
				return err
			}
			return f.printList(roles, roleRows(roles))
		}),
	}
}

func newCmdRoleShow(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "show ROLE",
		Short:             "Show a role and its permissions",
		Example:           `  roster role show admin`,
		Args:              exactArgs(1, "ROLE"),
		ValidArgsFunction: completeRoles(f),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			r, err := svc.GetRole(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return f.printRole(r)
		}),
	}
}

func newCmdRoleCreate(f *Factory) *cobra.Command {
	var p roster.CreateRole
	cmd := &cobra.Command{
		Use:   "create NAME --permission P...",
		Short: "Create a custom role",
		Long: `Create a custom role holding the given permissions. You can only create a
role whose permissions (implications included) you hold yourself. With
--if-not-exists an existing role of that name is left as it is, the command
succeeds, and any difference from what was asked is reported on stderr.`,
		Example: `  roster role create support --permission users.view --permission invoices.view`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p.Name = args[0]
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			r, err := svc.CreateRole(cmd.Context(), p)
			if err != nil {
				return err
			}
			f.created("role "+r.Name, r.Existing)
			return f.printRole(r)
		},
	}
	cmd.Flags().StringArrayVar(&p.Permissions, "permission", nil, "grant `PERMISSION` (repeatable)")
	cmd.Flags().StringVar(&p.Description, "description", "", "what the role is for")
	cmd.Flags().BoolVar(&p.IfNotExists, "if-not-exists", false, "succeed without change when the role already exists")
	_ = cmd.MarkFlagRequired("permission")
	_ = cmd.RegisterFlagCompletionFunc("permission", completePermissions(f))
	return cmd
}

func newCmdRoleUpdate(f *Factory) *cobra.Command {
	var p roster.UpdateRole
	var desc string
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a custom role's permissions or description",
		Long: `Change a custom role's permissions or description.

` + roleHoldersHelp,
		Example:           `  roster role update support --add-permission tasks.create --remove-permission invoices.view`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: positional(f, false, customRole),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("description") {
				p.Description = &desc
			}
			if p.Description == nil && len(p.Add) == 0 && len(p.Remove) == 0 {
				return usagef("nothing to update").withHint("give --add-permission, --remove-permission or --description")
			}
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			res, err := svc.UpdateRole(cmd.Context(), args[0], p)
			if err != nil {
				return err
			}
			if res.Changed {
				f.infof("updated role %s", res.Role.Name)
			} else {
				f.infof("role %s already so, unchanged", res.Role.Name)
			}
			return f.printRole(res.Role)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&p.Add, "add-permission", nil, "add `PERMISSION` (repeatable)")
	fs.StringArrayVar(&p.Remove, "remove-permission", nil, "remove `PERMISSION` (repeatable)")
	fs.StringVar(&desc, "description", "", "new description")
	_ = cmd.RegisterFlagCompletionFunc("add-permission", completePermissions(f))
	_ = cmd.RegisterFlagCompletionFunc("remove-permission", completePermissions(f))
	return cmd
}

func newCmdRoleDelete(f *Factory) *cobra.Command {
	var reassign string
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a custom role",
		Long: `Delete a custom role. A role still held by users can only be deleted with
--reassign ROLE, which gives its holders that role instead.`,
		Example:           `  roster role delete support --reassign member`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: positional(f, false, customRole),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.confirm("delete role " + args[0] + "?"); err != nil {
				return err
			}
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			r, err := svc.DeleteRole(cmd.Context(), args[0], reassign)
			if err != nil {
				return err
			}
			f.infof("deleted role %s", r.Name)
			return f.printRole(r)
		},
	}
	cmd.Flags().StringVar(&reassign, "reassign", "", "give the role's holders `ROLE` instead")
	_ = cmd.RegisterFlagCompletionFunc("reassign", completeRoles(f))
	return cmd
}

func newCmdRoleAssign(f *Factory, verb, short, long, did string, targets candidates, example string, apply func(*cobra.Command, roster.Service, string, string) (roster.UserResult, error)) *cobra.Command {
	return &cobra.Command{
		Use:               verb + " ROLE USER...",
		Short:             short,
		Long:              long,
		Example:           example,
		Args:              minArgs(2, "ROLE", "USER..."),
		ValidArgsFunction: positional(f, true, anyRole, targets),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			role, users := args[0], args[1:]
			results, failed := eachTarget(cmd.Context(), f, cmd.CommandPath(), users, func(ref string) (roster.UserResult, error) {
				return apply(cmd, svc, role, ref)
			})
			return printThen(len(results), func() error {
				return f.printUserResults(results, len(users) == 1, did+" "+role+" for", "already so ("+role+")")
			}, failed)
		}),
	}
}
