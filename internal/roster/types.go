package roster

import "time"

// Status is a user's lifecycle state.
type Status string

// The user statuses.
const (
	StatusInvited     Status = "invited"
	StatusActive      Status = "active"
	StatusDeactivated Status = "deactivated"
	// StatusExpired is never stored: it is how an invited or active user
	// whose ExpiresAt has come reads (StatusAt), and a filter of user list.
	StatusExpired Status = "expired"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	return s == StatusInvited || s == StatusActive || s == StatusDeactivated
}

// Kind is what an account is: a person, or a service account.
type Kind string

// The kinds of account (DESIGN.md, "Service accounts, scoped and expiring
// access"). A service account has a name (its username) instead of an
// email, no password, no pages and no sign-in links: it acts only
// through tokens, and is not counted in seats.
const (
	KindPerson  Kind = "person"
	KindService Kind = "service"
)

// Noun names an account of kind k in messages.
func (k Kind) Noun() string {
	if k == KindService {
		return "service account"
	}
	return "user"
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindPerson || k == KindService }

// User is an account as shown to callers; it never carries a password hash.
type User struct {
	ID                 int64             `json:"id"`
	Kind               Kind              `json:"kind"`
	Email              string            `json:"email"`
	Username           string            `json:"username"`
	Name               string            `json:"name"`
	Roles              []string          `json:"roles"`
	Status             Status            `json:"status"`
	MustChangePassword bool              `json:"must_change_password"`
	HasPassword        bool              `json:"has_password"`
	Links              map[string]string `json:"links"`
	Projects           []string          `json:"projects"`
	CreatedAt          time.Time         `json:"created_at"`
	UpdatedAt          time.Time         `json:"updated_at"`
	LastLoginAt        *time.Time        `json:"last_login_at"`
	LastLoginMethod    string            `json:"last_login_method"`
	DeactivatedAt      *time.Time        `json:"deactivated_at"`
	// ExpiresAt is the instant the account stops working (nil: never).
	ExpiresAt *time.Time `json:"expires_at"`
}

// Service reports whether u is a service account.
func (u User) Service() bool { return u.Kind == KindService }

// Handle names u in messages and the audit log: a person's email, a
// service account's name.
func (u User) Handle() string {
	if u.Service() {
		return u.Username
	}
	return u.Email
}

// Expired reports whether u's account has expired at now: from the instant
// of ExpiresAt on, with no job needed to mark it. A deactivated user reads
// as deactivated whatever their expiry.
func (u User) Expired(now time.Time) bool {
	return u.Status != StatusDeactivated && u.ExpiresAt != nil && !now.Before(*u.ExpiresAt)
}

// StatusAt is u's status as read at now: StatusExpired once expired.
func (u User) StatusAt(now time.Time) Status {
	if u.Expired(now) {
		return StatusExpired
	}
	return u.Status
}

// Role is a named set of permissions.
type Role struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Builtin     bool     `json:"builtin"`
	Permissions []string `json:"permissions"`
	Holders     int      `json:"holders"`
	// Existing is set when a create with IfNotExists found the role.
	Existing *Existing `json:"existing,omitempty"`
}

// Permission is one capability flag.
type Permission struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Builtin     bool     `json:"builtin"`
	Implies     []string `json:"implies"`
	// Existing is set when a create with IfNotExists found the permission.
	Existing *Existing `json:"existing,omitempty"`
}

// AuditEvent records one change.
type AuditEvent struct {
	ID      int64          `json:"id"`
	At      time.Time      `json:"at"`
	Actor   string         `json:"actor"`
	Via     string         `json:"via"`
	Action  string         `json:"action"`
	Target  string         `json:"target"`
	Details map[string]any `json:"details"`
}

// Settings are the store-wide settings shared by CLI and server.
type Settings map[string]string

// Decision answers "can USER do PERMISSION".
type Decision struct {
	User       string   `json:"user"`
	Permission string   `json:"permission"`
	Project    string   `json:"project,omitempty"`
	Allowed    bool     `json:"allowed"`
	GrantedBy  []string `json:"granted_by"`
	Reason     string   `json:"reason,omitempty"`
}

// Page sizes of keyed listings.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Page is one page of a keyed listing. Next is empty on the last page.
type Page[T any] struct {
	Items []T
	Next  string
}

// OrgStatus is an organisation's state: a suspended one refuses every
// sign-in, token and link, and keeps its data.
type OrgStatus string

// The organisation statuses.
const (
	OrgActive    OrgStatus = "active"
	OrgSuspended OrgStatus = "suspended"
)

// Org is an organisation (DESIGN.md, "Organisations"): everything else in
// a store belongs to one.
type Org struct {
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Status    OrgStatus `json:"status"`
	System    bool      `json:"system"` // the system organisation, made by init
	CreatedAt time.Time `json:"created_at"`
	// Counts, as org list and org show give them: every user, the active
	// ones, the seat limit (0: none) and the projects.
	Users       int `json:"users"`
	ActiveUsers int `json:"active_users"`
	Seats       int `json:"seats"`
	Projects    int `json:"projects"`
}

// ParseExpiry reads when an account expires, as user create --expires and
// user set-expiry take it, against now: "never" (nil), a duration from now
// ("30d", "12h"), a date (its start, UTC: 2026-07-01) or an RFC 3339
// instant. The instant must be after now: to end access at once,
// deactivate.
func ParseExpiry(s string, now time.Time) (*time.Time, error) {
	at, err := ExpiryAt(s, now)
	if err != nil || at == nil {
		return at, err
	}
	if !at.After(now) {
		return nil, Errorf(ErrInvalid, "expiry %s is not in the future", at.Format(time.RFC3339)).
			WithHint("to end an account's access now, deactivate it")
	}
	return at, nil
}

// ExpiryAt reads an expiry as ParseExpiry does, but takes an instant
// already past: an import or apply file may declare one, as the export of
// an expired account writes it.
func ExpiryAt(s string, now time.Time) (*time.Time, error) {
	if s == "never" {
		return nil, nil
	}
	var at time.Time
	if d, err := ParseDuration(s); err == nil {
		at = now.Add(d)
	} else if t, err := time.Parse(time.DateOnly, s); err == nil {
		at = t
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		at = t.UTC()
	} else {
		return nil, Errorf(ErrInvalid, "invalid expiry %q", s).
			WithHint("give a date (2026-07-01), an RFC 3339 time, a duration (30d, 12h) or never")
	}
	at = at.Truncate(time.Microsecond)
	return &at, nil
}
