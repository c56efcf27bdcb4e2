package roster

import (
	"fmt"
)

// UserRecord is one user as import reads it, export writes it and apply
// declares it: what an administrator provisions, with no timestamps and
// no secret. PasswordHash is read by import and apply only; export never
// fills it. Line is where the record starts in its file (0: unknown).
type UserRecord struct {
	Email        string            `json:"email" yaml:"email"`
	Name         string            `json:"name,omitempty" yaml:"name,omitempty"`
	Username     string            `json:"username,omitempty" yaml:"username,omitempty"`
	Roles        []string          `json:"roles" yaml:"roles,flow"`
	Projects     []string          `json:"projects" yaml:"projects,flow"`
	Links        map[string]string `json:"links" yaml:"links,omitempty"`
	Status       Status            `json:"status,omitempty" yaml:"status,omitempty"`
	PasswordHash string            `json:"password_hash,omitempty" yaml:"password_hash,omitempty"`
	Line         int               `json:"-" yaml:"-"`
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

// InputErrors reports every bad line of an input file at once. Its kind
// is the first bad line's (invalid input, a rule, a missing thing), so
// the exit code says what went wrong first.
type InputErrors struct {
	Kind  error
	What  string // "import", "apply"
	Lines []LineError
}

func (e *InputErrors) Error() string {
	word := "lines"
	if len(e.Lines) == 1 {
		word = "line"
	}
	return fmt.Sprintf("%s: %d bad %s; nothing was written", e.What, len(e.Lines), word)
}

// Unwrap lets errors.Is match the kind.
func (e *InputErrors) Unwrap() error { return e.Kind }
