package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/roster"
)

type completeFunc = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)

const noFiles = cobra.ShellCompDirectiveNoFileComp

// completeUsers completes USER arguments with emails from the store. Any
// failure (no store yet, no permission) completes nothing.
func completeUsers(f *Factory) completeFunc {
	return func(cmd *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return f.userNames(cmd, prefix), noFiles
	}
}

func (f *Factory) userNames(cmd *cobra.Command, prefix string) []string {
	svc, err := f.Service(cmd.Context())
	if err != nil {
		return nil
	}
	page, err := svc.ListUsers(cmd.Context(), roster.UserFilter{Search: prefix, Limit: 100})
	if err != nil {
		return nil
	}
	var out []string
	for _, u := range page.Items {
		if strings.HasPrefix(strings.ToLower(u.Email), strings.ToLower(prefix)) {
			out = append(out, u.Email)
		}
	}
	return out
}

func completeRoles(f *Factory) completeFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return f.roleNames(cmd), noFiles
	}
}

func (f *Factory) roleNames(cmd *cobra.Command) []string {
	svc, err := f.Service(cmd.Context())
	if err != nil {
		return nil
	}
	roles, err := svc.ListRoles(cmd.Context())
	if err != nil {
		return nil
	}
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = r.Name + "\t" + r.Description
	}
	return out
}

func completePermissions(f *Factory) completeFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return f.permissionNames(cmd), noFiles
	}
}

func (f *Factory) permissionNames(cmd *cobra.Command) []string {
	svc, err := f.Service(cmd.Context())
	if err != nil {
		return nil
	}
	perms, err := svc.ListPermissions(cmd.Context())
	if err != nil {
		return nil
	}
	out := make([]string, len(perms))
	for i, p := range perms {
		out[i] = p.Name + "\t" + p.Description
	}
	return out
}

// completeUserThenRoles completes "USER ROLE...".
func completeUserThenRoles(f *Factory) completeFunc {
	return func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return f.userNames(cmd, prefix), noFiles
		}
		return f.roleNames(cmd), noFiles
	}
}

// completeRoleThenUsers completes "ROLE USER...".
func completeRoleThenUsers(f *Factory) completeFunc {
	return func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return f.roleNames(cmd), noFiles
		}
		return f.userNames(cmd, prefix), noFiles
	}
}

// completeUserThenPermission completes "USER PERMISSION".
func completeUserThenPermission(f *Factory) completeFunc {
	return func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		switch len(args) {
		case 0:
			return f.userNames(cmd, prefix), noFiles
		case 1:
			return f.permissionNames(cmd), noFiles
		}
		return nil, noFiles
	}
}
