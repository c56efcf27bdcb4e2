package cli

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
)

func newCmdProject(f *Factory) *cobra.Command {
	return withExample(group("project", "projects", "Create projects and grant people access to them",
		newCmdProjectList(f),
		newCmdProjectShow(f),
		newCmdProjectCreate(f),
		newCmdProjectUpdate(f),
		newCmdProjectArchive(f, true),
		newCmdProjectArchive(f, false),
		newCmdProjectDelete(f),
		withExample(group("member", "members", "List, add and remove a project's members",
			newCmdMemberList(f),
			newCmdMemberChange(f, true),
			newCmdMemberChange(f, false),
		), `  roster project member add billing alice@example.com dana@example.com
  roster project member list billing -o name`),
	), `  roster project create billing --name "Billing service"
  roster project member add billing alice@example.com`)
}

var projectHeader = []string{"SLUG", "NAME", "ARCHIVED", "MEMBERS", "CREATED"}

func projectRows(ps []roster.Project) output.Rows {
	r := output.Rows{Header: projectHeader}
	for _, p := range ps {
		r.Add(p.Slug, p.Slug, p.Name, strconv.FormatBool(p.Archived), strconv.Itoa(p.Members), formatTime(&p.CreatedAt))
	}
	return r
}

func (f *Factory) printProject(p roster.Project) error {
	return f.printOne(p, projectRows([]roster.Project{p}))
}

// printProjectResult says what a change did, then prints the project.
func (f *Factory) printProjectResult(res roster.ProjectResult, did, already string) error {
	if res.Changed {
		f.infof("%s project %s", did, res.Project.Slug)
	} else {
		f.infof("project %s %s, unchanged", res.Project.Slug, already)
	}
	return f.printProject(res.Project)
}

func newCmdProjectList(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the projects you can see",
		Long:  "List projects: every project for holders of projects.view_all, otherwise the projects you are a member of.",
		Example: `  roster project list
  roster --as dana@example.com project list -o name`,
		Args: exactArgs(0),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			ps, err := svc.ListProjects(cmd.Context())
			if err != nil {
				return err
			}
			return f.printList(ps, projectRows(ps))
		}),
	}
}

func newCmdProjectShow(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "show PROJECT",
		Short:             "Show a project",
		Example:           `  roster project show billing -o json`,
		Args:              exactArgs(1, "PROJECT"),
		ValidArgsFunction: completeProjects(f),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			p, err := svc.GetProject(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return f.printProject(p)
		}),
	}
}

func newCmdProjectCreate(f *Factory) *cobra.Command {
	var p roster.CreateProject
	cmd := &cobra.Command{
		Use:   "create SLUG",
		Short: "Create a project",
		Long: `Create a project. With --if-not-exists an existing project of that slug is
left as it is, the command succeeds, and any difference from what was asked
is reported on stderr.`,
		Example: `  roster project create billing --name "Billing service"`,
		Args:    exactArgs(1, "SLUG"),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			p.Slug = args[0]
			out, err := svc.CreateProject(cmd.Context(), p)
			if err != nil {
				return err
			}
			f.created("project "+out.Slug, out.Existing)
			return f.printProject(out)
		}),
	}
	cmd.Flags().StringVar(&p.Name, "name", "", "display `name`")
	cmd.Flags().BoolVar(&p.IfNotExists, "if-not-exists", false, "succeed without change when the project already exists")
	return cmd
}

func newCmdProjectUpdate(f *Factory) *cobra.Command {
	var slug, name string
	cmd := &cobra.Command{
		Use:   "update PROJECT",
		Short: "Rename a project or change its slug",
		Example: `  roster project update billing --name "Billing and invoices"
  roster project update billing --slug invoicing`,
		Args:              exactArgs(1, "PROJECT"),
		ValidArgsFunction: completeProjects(f),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			var u roster.UpdateProject
			if cmd.Flags().Changed("slug") {
				u.Slug = &slug
			}
			if cmd.Flags().Changed("name") {
				u.Name = &name
			}
			if u.Slug == nil && u.Name == nil {
				return usagef("nothing to update").withHint("give --name or --slug")
			}
			res, err := svc.UpdateProject(cmd.Context(), args[0], u)
			if err != nil {
				return err
			}
			return f.printProjectResult(res, "updated", "already so")
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "new display `name`")
	cmd.Flags().StringVar(&slug, "slug", "", "new `slug`")
	return cmd
}

func newCmdProjectArchive(f *Factory, archive bool) *cobra.Command {
	use, short, did, already := "archive PROJECT", "Archive a project: members stay, none can be added", "archived", "already archived"
	example := `  roster project archive billing`
	if !archive {
		use, short, did, already = "unarchive PROJECT", "Unarchive a project", "unarchived", "not archived"
		example = `  roster project unarchive billing`
	}
	targets := openProject
	if !archive {
		targets = archivedProject
	}
	return &cobra.Command{
		Use:               use,
		Short:             short,
		Example:           example,
		Args:              exactArgs(1, "PROJECT"),
		ValidArgsFunction: positional(f, false, targets),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			res, err := svc.ArchiveProject(cmd.Context(), args[0], archive)
			if err != nil {
				return err
			}
			return f.printProjectResult(res, did, already)
		}),
	}
}

func newCmdProjectDelete(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "delete PROJECT",
		Short: "Delete a project and its memberships",
		Long: `Delete a project. Its memberships go with it, each recorded in the audit log
(project.member.remove, in the member's history).
Asks for confirmation on a terminal; needs --yes otherwise.`,
		Example:           `  roster project delete billing --yes`,
		Args:              exactArgs(1, "PROJECT"),
		ValidArgsFunction: completeProjects(f),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			p, err := svc.GetProject(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			question := "delete project " + p.Slug + "?"
			if p.Members > 0 {
				question = "delete project " + p.Slug + " and its " + strconv.Itoa(p.Members) + " memberships?"
			}
			if err := f.confirm(question); err != nil {
				return err
			}
			out, err := svc.DeleteProject(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			f.infof("deleted project %s (%d memberships removed)", out.Slug, out.Members)
			return f.printProject(out)
		}),
	}
}

func newCmdMemberList(f *Factory) *cobra.Command {
	opts := &userListOptions{}
	cmd := &cobra.Command{
		Use:   "list PROJECT",
		Short: "List a project's members, by email",
		Example: `  roster project member list billing
  roster project member list billing --limit 100 -o json --page-info`,
		Args:              exactArgs(1, "PROJECT"),
		ValidArgsFunction: completeProjects(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.filter.Project = args[0]
			if opts.all && opts.filter.After != "" {
				return usagef("--all and --after cannot be used together")
			}
			return userListRun(cmd, f, opts)
		},
	}
	addPagingFlags(cmd, opts)
	return cmd
}

func newCmdMemberChange(f *Factory, add bool) *cobra.Command {
	use, short, did, already := "add PROJECT USER...", "Add users to a project; their roles do not change", "added to", "already a member of"
	complete := positional(f, true, openProject, nonMember)
	example := `  roster project member add billing alice@example.com dana@example.com`
	if !add {
		use, short, did, already = "remove PROJECT USER...", "Remove users from a project", "removed from", "not a member of"
		complete = positional(f, true, anyProject, member)
		example = `  roster project member remove billing dana@example.com`
	}
	return &cobra.Command{
		Use:               use,
		Short:             short,
		Example:           example,
		Args:              minArgs(2, "PROJECT", "USER..."),
		ValidArgsFunction: complete,
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			slug, refs := args[0], args[1:]
			change := svc.AddMembers
			if !add {
				change = svc.RemoveMembers
			}
			// One call, one transaction, for all the users.
			outcomes, err := change(cmd.Context(), slug, refs)
			if err != nil {
				return err
			}
			// The change is made: reporting its outcomes cannot be interrupted.
			i := 0
			results, failed := eachTarget(context.WithoutCancel(cmd.Context()), f, cmd.CommandPath(), refs, func(string) (roster.UserResult, error) {
				o := outcomes[i]
				i++
				return roster.UserResult{User: o.Result.User, Changed: o.Result.Changed}, o.Err
			})
			return printThen(len(results), func() error {
				return f.printUserResults(results, len(refs) == 1, did+" "+slug+":", already+" "+slug)
			}, failed)
		}),
	}
}
