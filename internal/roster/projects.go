package roster

import (
	"regexp"
	"time"
)

// Project is a unit of access: people are given access per project.
type Project struct {
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Archived  bool      `json:"archived"`
	Members   int       `json:"members"`
	CreatedAt time.Time `json:"created_at"`
	// Existing is set when a create with IfNotExists found the project.
	Existing *Existing `json:"existing,omitempty"`
}

// CreateProject makes a project.
type CreateProject struct {
	Slug        string
	Name        string
	IfNotExists bool
}

// UpdateProject renames a project; nil fields stay.
type UpdateProject struct {
	Slug *string
	Name *string
}

// ProjectResult is a project after a change.
type ProjectResult struct {
	Project Project `json:"project"`
	Changed bool    `json:"changed"`
}

// MemberOutcome is what became of one user in a membership change: a
// result, or the error that stopped it.
type MemberOutcome struct {
	Ref    string
	Result MemberResult
	Err    error
}

// MemberResult is a membership after a change.
type MemberResult struct {
	Project string `json:"project"`
	User    User   `json:"user"`
	Changed bool   `json:"changed"`
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// ValidateSlug checks a project slug: lower-case letters, digits and '-',
// starting with a letter or digit, at most 63 characters.
func ValidateSlug(s string) error {
	if len(s) > 63 || !slugRE.MatchString(s) {
		return Errorf(ErrInvalid, "invalid project slug %q", s).
			WithHint("use lower-case letters, digits and '-', starting with a letter or digit; at most 63 characters")
	}
	return nil
}
