package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/roster/records"
)

type importOptions struct {
	file   string
	params roster.ImportParams
}

func newCmdImport(f *Factory) *cobra.Command {
	opts := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import FILE|-",
		Short: "Create and change users from a CSV or JSON-lines file, all or nothing",
		Long: `Create and change users from a file: CSV with a header line, or JSON lines
(one object per line). The format comes from the name (.csv, .jsonl) or
--format. Columns (fields): email, name, username, roles, projects, links,
status, password_hash; in CSV, lists are separated by ';' and links are
kind=value (github=alice;employee=42).

Every line is checked, and the rules too, in one transaction: if any line is
bad, each bad line is reported with its number and nothing is written.
Importing the same file again changes nothing. Empty fields leave an
existing user's value as it is. password_hash takes an argon2id PHC string
or a bcrypt hash ($2a$, $2b$, $2y$), for users who have no password yet; a
bcrypt hash is replaced by argon2id at the user's next sign-in.

stdout gets the plan: "+ user EMAIL" for each user created and "~ user
EMAIL: field old → new" for each changed; --dry-run prints it and writes
nothing. A progress bar goes to stderr when stderr is a terminal.`,
		Example: `  roster import people.csv --dry-run
  roster import people.csv
  hr-export | roster import - --format jsonl`,
		Args:              exactArgs(1, "FILE|-"),
		ValidArgsFunction: fileArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.file = args[0]
			if opts.params.Format == "" {
				opts.params.Format = records.Format(opts.file)
			}
			switch opts.params.Format {
			case "csv", "jsonl":
			case "":
				return usagef("cannot tell the format of %s", opts.file).withHint("give --format csv or --format jsonl")
			default:
				return usagef("invalid --format %q", opts.params.Format).withHint("use csv or jsonl")
			}
			return importRun(cmd, f, opts)
		},
	}
	cmd.Flags().StringVar(&opts.params.Format, "format", "", "the file's `format`: csv or jsonl (default: from the name)")
	cmd.Flags().BoolVar(&opts.params.DryRun, "dry-run", false, "print what would change and write nothing")
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion("csv", "jsonl"))
	return cmd
}

func importRun(cmd *cobra.Command, f *Factory, opts *importOptions) error {
	plan, err := f.planFrom(cmd.Context(), opts.file, func(svc roster.Service, in io.Reader) (roster.Plan, error) {
		return svc.Import(cmd.Context(), in, opts.params)
	})
	if err != nil {
		return err
	}
	return f.printPlan(plan, "import")
}

// openInput opens FILE or stdin ("-") and, when stderr is a terminal,
// shows how much of it has been read.
func (f *Factory) openInput(name string) (io.Reader, func(), error) {
	var r io.Reader = f.IO.In
	var size int64
	closeFile := func() {}
	if name != "-" {
		file, err := os.Open(name)
		if err != nil {
			return nil, nil, usagef("open %s: %v", name, err)
		}
		if st, err := file.Stat(); err == nil {
			size = st.Size()
		}
		r, closeFile = file, func() { file.Close() }
	}
	if !f.IO.stderrTTY {
		return r, closeFile, nil
	}
	p := &progress{r: r, w: f.IO.ErrOut, size: size}
	return p, func() { p.finish(); closeFile() }, nil
}

// progress is a progress bar on stderr, drawn as the input is read:
// reading is what the import waits on, locally and through a server.
type progress struct {
	r          io.Reader
	w          io.Writer
	size, read int64
	shown      int64 // the figure last drawn, to redraw only on change
}

const progressWidth = 30

func (p *progress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.read += int64(n)
	p.draw()
	return n, err
}

func (p *progress) draw() {
	if p.size <= 0 {
		if kib := p.read >> 20; kib != p.shown {
			p.shown = kib
			fmt.Fprintf(p.w, "\rroster: read %d MiB", kib)
		}
		return
	}
	pct := min(100, p.read*100/p.size)
	if pct == p.shown && p.read > 0 {
		return
	}
	p.shown = pct
	fill := int(pct * progressWidth / 100)
	bar := make([]byte, progressWidth)
	for i := range bar {
		bar[i] = '.'
		if i < fill {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(p.w, "\rroster: [%s] %3d%%", bar, pct)
}

// finish ends the bar's line so that what follows starts clean.
func (p *progress) finish() { fmt.Fprintln(p.w) }

// printPlan prints a plan: its lines on stdout (or the plan as JSON or
// YAML), and a summary on stderr.
func (f *Factory) printPlan(plan roster.Plan, what string) error {
	p, err := f.Printer()
	if err != nil {
		return err
	}
	if p.Format == output.JSON || p.Format == output.YAML {
		if err := p.One(plan, output.Rows{}); err != nil {
			return err
		}
	} else {
		for _, c := range plan.Changes {
			fmt.Fprintln(f.IO.Out, c.String())
		}
	}
	for _, k := range plan.Kept {
		f.infof("kept %s", k)
	}
	summary := fmt.Sprintf("%d to create, %d to change, %d to remove, %d unchanged",
		plan.Count(roster.OpCreate), plan.Count(roster.OpChange), plan.Count(roster.OpRemove), plan.Unchanged)
	if plan.DryRun {
		f.infof("%s (dry run): %s; nothing written", what, summary)
	} else {
		f.infof("%s: %s", what, pastTense(summary))
	}
	return nil
}

// pastTense turns a plan's summary into what was done.
var pastTense = strings.NewReplacer("to create", "created", "to change", "changed", "to remove", "removed").Replace

func newCmdExport(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write every user, streamed: JSON lines, CSV, or YAML for apply",
		Long: `Write every user you may see with roles, projects, links and status, in
email order, as the store is read a page at a time: a million users take
no more memory than one page. Never a password, hash or token.

-o jsonl (the default) writes one JSON object per line and -o csv the
columns of roster import, so either file imports back. -o yaml writes an
apply file: the application permissions, custom roles and projects, then
the users, so that roster apply -f on an empty store recreates them.`,
		Example: `  roster export > people.jsonl
  roster export -o yaml > team.yaml && roster apply -f team.yaml --dry-run`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exportRun(cmd, f, format)
		},
	}
	// -o here names export's own formats; it shadows the global flag.
	cmd.Flags().StringVarP(&format, "output", "o", "jsonl", "`format`: jsonl, csv or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion(records.ExportFormats...))
	return cmd
}

func exportRun(cmd *cobra.Command, f *Factory, format string) error {
	ctx := cmd.Context()
	w, err := records.NewWriter(f.IO.Out, format)
	if err != nil {
		return usagef("invalid -o %q", format).withHint("use jsonl, csv or yaml")
	}
	svc, err := f.Service(ctx)
	if err != nil {
		return err
	}
	var head roster.Manifest
	if format == "yaml" {
		if head, err = manifestHead(cmd, svc); err != nil {
			return err
		}
	}
	if err := w.Begin(head); err != nil {
		return err
	}
	n := 0
	err = svc.Export(ctx, func(u roster.UserRecord) error {
		n++
		return w.Write(u)
	})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	f.infof("exported %d users", n)
	return nil
}

// manifestHead is what an apply file declares besides users: the
// application permissions, custom roles and projects.
func manifestHead(cmd *cobra.Command, svc roster.Service) (roster.Manifest, error) {
	var m roster.Manifest
	ctx := cmd.Context()
	perms, err := svc.ListPermissions(ctx)
	if err != nil {
		return m, err
	}
	for _, p := range perms {
		if !p.Builtin {
			m.Permissions = append(m.Permissions, roster.PermissionRecord{Name: p.Name, Description: p.Description, Implies: p.Implies})
		}
	}
	roles, err := svc.ListRoles(ctx)
	if err != nil {
		return m, err
	}
	for _, r := range roles {
		if !r.Builtin {
			m.Roles = append(m.Roles, roster.RoleRecord{Name: r.Name, Description: r.Description, Permissions: r.Permissions})
		}
	}
	projects, err := svc.ListProjects(ctx)
	if err != nil {
		return m, err
	}
	for _, p := range projects {
		m.Projects = append(m.Projects, roster.ProjectRecord{Slug: p.Slug, Name: p.Name, Archived: p.Archived})
	}
	return m, nil
}

type applyOptions struct {
	file     string
	params   roster.ApplyParams
	exitCode bool
}

func newCmdApply(f *Factory) *cobra.Command {
	opts := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply -f FILE|-",
		Short: "Make the store match a file declaring users, roles, permissions and projects",
		Long: `Make the store match a YAML (or JSON) file that declares application
permissions, custom roles, projects, and users with their roles, projects,
links and status (the shape roster export -o yaml writes):

  permissions: [{name: invoices.view, description: see invoices}]
  roles: [{name: billing, permissions: [invoices.view]}]
  projects: [{slug: billing, name: Billing service}]
  users:
  - {email: alice@example.com, roles: [admin], projects: [billing]}

The plan is printed ("+" create, "~" change with old → new, "-" remove) and
carried out in one transaction, with every rule checked as the single
commands check it: if any line is bad, each is reported and nothing is
written. Applying the same file again gives an empty plan. Nothing is
removed unless --prune is given: then users not in the file are
deactivated, their undeclared memberships and links removed, and custom
roles, application permissions and projects not in the file deleted.

--dry-run prints the plan and writes nothing; with --exit-code it exits 10
when the plan is not empty, for a CI check of drift.`,
		Example: `  roster apply -f team.yaml --dry-run
  roster apply -f team.yaml
  roster apply -f team.yaml --dry-run --exit-code || echo "drift"`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.file == "" {
				return usagef("no file given").withHint("give -f FILE, or -f - for stdin")
			}
			if opts.exitCode && !opts.params.DryRun {
				return usagef("--exit-code needs --dry-run")
			}
			return applyRun(cmd, f, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.file, "file", "f", "", "the `FILE` to apply, or - for stdin")
	fs.BoolVar(&opts.params.DryRun, "dry-run", false, "print the plan and write nothing")
	fs.BoolVar(&opts.params.Prune, "prune", false, "also remove what the file does not declare")
	fs.BoolVar(&opts.exitCode, "exit-code", false, "with --dry-run, exit 10 when the plan is not empty")
	return cmd
}

func applyRun(cmd *cobra.Command, f *Factory, opts *applyOptions) error {
	plan, err := f.planFrom(cmd.Context(), opts.file, func(svc roster.Service, in io.Reader) (roster.Plan, error) {
		return svc.Apply(cmd.Context(), in, opts.params)
	})
	if err != nil {
		return err
	}
	if err := f.printPlan(plan, "apply"); err != nil {
		return err
	}
	if opts.exitCode && len(plan.Changes) > 0 {
		return &silentError{code: ExitDrift}
	}
	return nil
}

// planFrom opens file (or stdin for -) and hands it to one of the
// Service's calls that read a file and answer a plan: import and apply.
func (f *Factory) planFrom(ctx context.Context, file string, call func(roster.Service, io.Reader) (roster.Plan, error)) (roster.Plan, error) {
	svc, err := f.Service(ctx)
	if err != nil {
		return roster.Plan{}, err
	}
	in, done, err := f.openInput(file)
	if err != nil {
		return roster.Plan{}, err
	}
	defer done()
	return call(svc, in)
}

func newCmdUserSetProjects(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "set-projects USER [PROJECT...]",
		Short: "Set the projects a user belongs to, in one step",
		Long: `Make USER a member of exactly the given projects: added to the missing
ones, removed from the others, in one transaction. With no PROJECT the user
leaves every project. A projects.members holder manages only projects they
belong to (R12), and projects you cannot see are left alone.`,
		Example:           `  roster user set-projects alice@example.com billing web`,
		Args:              minArgs(1, "USER", "[PROJECT...]"),
		ValidArgsFunction: positional(f, true, anyUser, anyProject),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			res, err := svc.SetProjects(cmd.Context(), args[0], args[1:])
			if err != nil {
				return err
			}
			return f.printUserResults([]roster.UserResult{res}, true, "set the projects of", "already in these projects")
		}),
	}
}
