package roster

import (
	"context"
	"fmt"
)

// progressKey carries a Progress function in a context.
type progressKey struct{}

// Progress is told how far a long import, apply or export has got: done
// of total rows through stage ("checking", "applying", "exporting";
// total 0 when not known).
type Progress func(stage string, done, total int)

// WithProgress returns ctx carrying fn, which Import, Apply and Export
// call as they go when they run in this process. Through a server,
// Import and Apply call it with what the server's 102 Processing
// responses say (docs/api.md, "Progress"); Export does not.
func WithProgress(ctx context.Context, fn Progress) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

// Watched reports whether ctx carries a Progress function.
func Watched(ctx context.Context) bool {
	fn, ok := ctx.Value(progressKey{}).(Progress)
	return ok && fn != nil
}

// ProgressOf returns the Progress function of ctx, or one that does
// nothing.
func ProgressOf(ctx context.Context) Progress {
	if fn, ok := ctx.Value(progressKey{}).(Progress); ok && fn != nil {
		return fn
	}
	return func(string, int, int) {}
}

// UserRecord is one user as import reads it, export writes it and apply
// declares it: what an administrator provisions, with no timestamps and
// no secret. PasswordHash is read by import and apply only; export never
// fills it. Line is where the record starts in its file (0: unknown).
type UserRecord struct {
	// Kind is KindService for a service account, named by Username with
	// no Email; empty for a person.
	Kind     Kind              `json:"kind,omitempty" yaml:"kind,omitempty"`
	Email    string            `json:"email,omitempty" yaml:"email,omitempty"`
	Name     string            `json:"name,omitempty" yaml:"name,omitempty"`
	Username string            `json:"username,omitempty" yaml:"username,omitempty"`
	Roles    []string          `json:"roles" yaml:"roles,flow"`
	Projects []string          `json:"projects" yaml:"projects,flow"`
	Links    map[string]string `json:"links" yaml:"links,omitempty"`
	Status   Status            `json:"status,omitempty" yaml:"status,omitempty"`
	// Expires is when the account expires (roster.ExpiryAt): an RFC 3339
	// time, a date, a duration from the import, or never. Export writes
	// the instant; absent leaves an existing user's expiry as it is.
	Expires      string `json:"expires,omitempty" yaml:"expires,omitempty"`
	PasswordHash string `json:"password_hash,omitempty" yaml:"password_hash,omitempty"`
	Line         int    `json:"-" yaml:"-"`
}

// Handle is the account a record is about: a person's email, a service
// account's name.
func (u UserRecord) Handle() string {
	return User{Kind: u.Kind, Email: u.Email, Username: u.Username}.Handle()
}

// RoleRecord declares a custom role in an apply file.
type RoleRecord struct {
	Name        string   `json:"name" yaml:"name"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Permissions []string `json:"permissions" yaml:"permissions,flow"`
	Line        int      `json:"-" yaml:"-"`
}

// PermissionRecord declares an application permission in an apply file.
type PermissionRecord struct {
	Name        string   `json:"name" yaml:"name"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Implies     []string `json:"implies,omitempty" yaml:"implies,flow,omitempty"`
	Line        int      `json:"-" yaml:"-"`
}

// ProjectRecord declares a project in an apply file.
type ProjectRecord struct {
	Slug     string `json:"slug" yaml:"slug"`
	Name     string `json:"name,omitempty" yaml:"name,omitempty"`
	Archived bool   `json:"archived,omitempty" yaml:"archived,omitempty"`
	Line     int    `json:"-" yaml:"-"`
}

// Manifest is an apply file: the application permissions, custom roles,
// projects and users that should exist. Memberships are the users'
// projects. roster export -o yaml writes one.
type Manifest struct {
	Permissions []PermissionRecord `json:"permissions,omitempty" yaml:"permissions,omitempty"`
	Roles       []RoleRecord       `json:"roles,omitempty" yaml:"roles,omitempty"`
	Projects    []ProjectRecord    `json:"projects,omitempty" yaml:"projects,omitempty"`
	Users       []UserRecord       `json:"users,omitempty" yaml:"users,omitempty"`
}

// ImportParams says how to read an import file: Format is "csv" or
// "jsonl"; DryRun plans without writing.
type ImportParams struct {
	Format string
	DryRun bool
}

// ApplyParams say how to apply a manifest: DryRun plans without writing;
// Prune also removes what the manifest does not declare.
type ApplyParams struct {
	DryRun bool
	Prune  bool
}

// The operations of a plan.
const (
	OpCreate = "+"
	OpChange = "~"
	OpRemove = "-"
)

// Change is one step of a plan: create, change or remove one thing.
type Change struct {
	Op     string        `json:"op"`
	Kind   string        `json:"kind"` // permission, role, project, user, membership
	Name   string        `json:"name"`
	Line   int           `json:"line,omitempty"`
	Fields []FieldChange `json:"fields,omitempty"`
}

// FieldChange is one field of a changed thing, old → new.
type FieldChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// String renders a change as a plan line: "~ user bob@example.com: roles [member] → [admin]".
func (c Change) String() string {
	s := c.Op + " " + c.Kind + " " + c.Name
	for i, f := range c.Fields {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		if c.Op == OpCreate {
			s += sep + f.Field + " " + f.To
			continue
		}
		s += sep + f.Field + " " + f.From + " → " + f.To
	}
	return s
}

// Plan is what an import or apply did, or, on a dry run, would do.
// Unchanged counts the things declared that already were as declared.
type Plan struct {
	Changes   []Change `json:"changes"`
	Unchanged int      `json:"unchanged"`
	DryRun    bool     `json:"dry_run"`
	// Kept says what --prune left because a rule keeps it, and why.
	Kept []string `json:"kept,omitempty"`
}

// Count returns how many changes of op the plan holds.
func (p Plan) Count(op string) int {
	n := 0
	for _, c := range p.Changes {
		if c.Op == op {
			n++
		}
	}
	return n
}

// LineError is what is wrong with one line of an input file.
type LineError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// String says where the error is: its line, or, for what --prune removes
// (which no line declares), "prune".
func (l LineError) String() string {
	if l.Line == 0 {
		return "prune: " + l.Message
	}
	return fmt.Sprintf("line %d: %s", l.Line, l.Message)
}

// InputErrors reports the bad lines of an input file at once. Its kind
// is the first bad line's (invalid input, a rule, a missing thing), so
// the exit code says what went wrong first. Lines lists at most the
// first 1,000 by line number; Total counts every one.
type InputErrors struct {
	Kind  error
	What  string // "import", "apply"
	Lines []LineError
	// Total is how many bad lines there are, listed or not; 0 means
	// len(Lines).
	Total int
}

// Count is how many bad lines there are, listed or not.
func (e *InputErrors) Count() int { return max(e.Total, len(e.Lines)) }

// More is how many bad lines are not listed.
func (e *InputErrors) More() int { return e.Count() - len(e.Lines) }

func (e *InputErrors) Error() string {
	word := "lines"
	if e.Count() == 1 {
		word = "line"
	}
	return fmt.Sprintf("%s: %d bad %s; nothing was written", e.What, e.Count(), word)
}

// MoreText says how many bad lines the list leaves out ("… and 500 more
// bad lines"), or "" when it lists them all.
func (e *InputErrors) MoreText() string {
	n := e.More()
	switch {
	case n <= 0:
		return ""
	case n == 1:
		return "… and 1 more bad line"
	}
	return fmt.Sprintf("… and %d more bad lines", n)
}

// Unwrap lets errors.Is match the kind.
func (e *InputErrors) Unwrap() error { return e.Kind }
