package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

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
status, expires, password_hash; in CSV, lists are separated by ';' and links
are kind=value (github=alice;employee=42). expires is when the account
expires: an RFC 3339 time, a date (its start, UTC), a duration from the
import (30d), or never; export writes the instant.

Every line is checked, and the rules too, in one transaction: if any line is
bad, each bad line is reported with its number and nothing is written.
Importing the same file again changes nothing. Empty fields leave an
existing user's value as it is. password_hash takes an argon2id PHC string
(v=19) or a bcrypt hash ($2a$, $2b$, $2y$) of cost 14 at most, as every
sign-in attempt runs it; a bcrypt hash is replaced by argon2id at the
user's next sign-in. It gives a password only to users who have none: a
user who has one keeps it, and the summary says so ("kept the password
of ..."); change it with roster user set-password. If more than 1,000
lines are bad, the first 1,000 are listed and the rest counted.

stdout gets the plan: "+ user EMAIL" for each user created and "~ user
EMAIL: field old → new" for each changed; --dry-run prints it and writes
nothing. For more than a few thousand rows, stderr shows rows done, rate
and time left when it is a terminal (not with -q), through a server too:
the server sends how far it has got every 5 seconds.`,
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
	plan, err := f.planFrom(cmd.Context(), "import", opts.file, func(ctx context.Context, svc roster.Service, in io.Reader) (roster.Plan, error) {
		return svc.Import(ctx, in, opts.params)
	})
	if err != nil {
		return err
	}
	return f.printPlan(plan, "import")
}

// openInput opens FILE or stdin ("-"); rows, when not nil, is told of
// what is read (see rowsReader).
func (f *Factory) openInput(name string, rows *rowProgress) (io.Reader, func(), error) {
	var r io.Reader = f.IO.In
	closeFile := func() {}
	if name != "-" {
		file, err := os.Open(name)
		if err != nil {
			return nil, nil, usagef("open %s: %v", name, err)
		}
		r, closeFile = file, func() { file.Close() }
		if rows != nil {
			rows.total = countRows(file, rows.what)
		}
	}
	if rows == nil {
		return r, closeFile, nil
	}
	return &rowsReader{r: r, p: rows}, closeFile, nil
}

// progressMin is the fewest rows progress is shown for: below it the
// work is over before it could be read.
const progressMin = 5000

// rowProgress shows on stderr how far an import, apply or export of many
// rows has got: rows done, rate and time left, on one line redrawn in
// place and cleared at the end. It exists only when stderr is a terminal
// and -q was not given (see Factory.progress); through a server it shows
// the file going up, then how far the server has got, as its 102
// Processing responses tell (client.Client's Import and Apply).
type rowProgress struct {
	w     io.Writer
	now   func() time.Time
	what  string // import, apply, export
	mu    sync.Mutex
	stage string
	done  int
	total int // 0: not known
	start time.Time
	drawn time.Time
	shown bool
}

// progress returns the progress line of a command, or nil when nothing
// is to be shown: stderr is not a terminal, or -q was given.
func (f *Factory) progress(what string) *rowProgress {
	if cfg, err := f.Config(); !f.IO.stderrTTY || err != nil || cfg.Quiet {
		return nil
	}
	return &rowProgress{w: f.IO.ErrOut, now: f.now, what: what}
}

// update records that done of total rows are through stage (total 0: not
// known), and redraws at most ten times a second.
func (p *rowProgress) update(stage string, done, total int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if stage != p.stage {
		p.stage, p.start, p.drawn = stage, now, time.Time{}
	}
	p.done = done
	if total > 0 {
		p.total = total
	}
	if max(p.total, p.done) < progressMin || now.Sub(p.drawn) < 100*time.Millisecond && done < p.total {
		return
	}
	p.drawn, p.shown = now, true
	fmt.Fprintf(p.w, "\rroster: %s\x1b[K", p.line(now))
}

// line is what the progress line says now.
func (p *rowProgress) line(now time.Time) string {
	s := fmt.Sprintf("%s: %s %s", p.what, p.stage, count(p.done))
	if p.total > 0 {
		s += " of " + count(p.total)
	}
	s += " rows"
	elapsed := now.Sub(p.start).Seconds()
	if elapsed <= 0 || p.done == 0 {
		return s
	}
	rate := float64(p.done) / elapsed
	s += fmt.Sprintf(", %s rows/s", count(int(rate)))
	if p.total > p.done {
		s += ", about " + duration(float64(p.total-p.done)/rate) + " left"
	}
	return s
}

// say replaces the progress line with a sentence, if it was shown.
func (p *rowProgress) say(text string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprintf(p.w, "\rroster: %s: %s\x1b[K", p.what, text)
	}
}

// finish clears the progress line, so that what follows starts clean.
func (p *rowProgress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// core returns ctx telling p how far the core has got, when it runs in
// this process.
func (p *rowProgress) core(ctx context.Context) context.Context {
	if p == nil {
		return ctx
	}
	return roster.WithProgress(ctx, func(stage string, done, total int) { p.update(stage, done, total) })
}

// count writes n with thousands separated: 100,000.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// duration writes seconds as people read a time left: "4 s", "3 min".
func duration(sec float64) string {
	if sec < 90 {
		return fmt.Sprintf("%d s", max(1, int(math.Round(sec))))
	}
	return fmt.Sprintf("%d min", int(math.Round(sec/60)))
}

// rowMarker counts rows in a file as it is read: lines for import (its
// header aside), and a user's email key for apply. It is for showing
// progress, not for parsing: near enough is enough.
func rowMarker(what string) []byte {
	if what == "apply" {
		return []byte("email")
	}
	return []byte("\n")
}

// countRows counts the rows of an open file and rewinds it; 0 when it
// cannot.
func countRows(file *os.File, what string) int {
	defer file.Seek(0, io.SeekStart)
	marker, n := rowMarker(what), 0
	buf := make([]byte, 256<<10)
	var carry []byte
	for {
		k, err := file.Read(buf)
		chunk := append(carry, buf[:k]...)
		n += bytes.Count(chunk, marker)
		// A marker cut in two by a read is counted with the next chunk.
		keep := min(len(chunk), len(marker)-1)
		carry = append(carry[:0:0], chunk[len(chunk)-keep:]...)
		n -= bytes.Count(carry, marker)
		if err != nil {
			break
		}
	}
	if what == "import" && n > 0 {
		n-- // the CSV header; a JSON-lines file has none, near enough
	}
	return n
}

// rowsReader tells a rowProgress of the rows read as the file is read:
// reading is what an import waits on first, locally and through a server.
type rowsReader struct {
	r    io.Reader
	p    *rowProgress
	rows int
	tail []byte
}

func (r *rowsReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	marker := rowMarker(r.p.what)
	chunk := append(r.tail, b[:n]...)
	r.rows += bytes.Count(chunk, marker)
	keep := min(len(chunk), len(marker)-1)
	r.tail = append(r.tail[:0], chunk[len(chunk)-keep:]...)
	r.rows -= bytes.Count(r.tail, marker)
	rows := r.rows
	if r.p.what == "import" && rows > 0 {
		rows-- // the CSV header, as countRows counts
	}
	r.p.update("reading", rows, 0)
	return n, err
}

// Stat is the file's, when r reads one: the core writes the records of a
// regular file while it reads the rest (core's Import).
func (r *rowsReader) Stat() (fs.FileInfo, error) {
	if f, ok := r.r.(interface{ Stat() (fs.FileInfo, error) }); ok {
		return f.Stat()
	}
	return nil, errors.ErrUnsupported
}

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
		// Buffered: a write a line was 100,000 system calls after an
		// import of 100,000 users. As before, a failed write of the list
		// does not undo or fail what was written to the store.
		w := bufio.NewWriter(f.IO.Out)
		for _, c := range plan.Changes {
			w.WriteString(c.String())
			w.WriteByte('\n')
		}
		w.Flush()
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
the users, so that roster apply -f on an empty store recreates them.
For more than a few thousand users, stderr shows rows done, rate and time
left when it is a terminal (not with -q).`,
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
	rows := f.progress("export")
	err = svc.Export(rows.core(ctx), func(u roster.UserRecord) error {
		n++
		if n%256 == 0 {
			rows.update("exporting", n, 0)
		}
		return w.Write(u)
	})
	rows.finish()
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
when the plan is not empty, for a CI check of drift. A password_hash is
taken as by roster import. For more than a few thousand users, stderr
shows rows done, rate and time left when it is a terminal (not with -q),
through a server too.`,
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
	plan, err := f.planFrom(cmd.Context(), "apply", opts.file, func(ctx context.Context, svc roster.Service, in io.Reader) (roster.Plan, error) {
		return svc.Apply(ctx, in, opts.params)
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
// what names the command, for its progress line.
func (f *Factory) planFrom(ctx context.Context, what, file string, call func(context.Context, roster.Service, io.Reader) (roster.Plan, error)) (roster.Plan, error) {
	svc, err := f.Service(ctx)
	if err != nil {
		return roster.Plan{}, err
	}
	rows := f.progress(what)
	in, done, err := f.openInput(file, rows)
	if err != nil {
		return roster.Plan{}, err
	}
	defer done()
	defer rows.finish()
	if cfg, _ := f.Config(); rows != nil && cfg != nil && cfg.Server != "" {
		in = &sentReader{Reader: in, p: rows}
	}
	return call(rows.core(ctx), svc, in)
}

// sentReader says, once a file has gone up to a server, that the server
// is at work on it, until the server's first 102 says how far it got.
type sentReader struct {
	io.Reader
	p    *rowProgress
	sent bool
}

func (r *sentReader) Read(b []byte) (int, error) {
	n, err := r.Reader.Read(b)
	if err == io.EOF && !r.sent {
		r.sent = true
		r.p.say(fmt.Sprintf("sent %s rows; the server is applying them", count(r.p.done)))
	}
	return n, err
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
