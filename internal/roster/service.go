// Package roster is the domain: its types, the permission catalog, the
// sentinel errors and the Service interface that the CLI talks to, whether
// the implementation is the local core or an HTTP client.
package roster

import (
	"context"
	"io"
	"time"
)

// Service is everything the command line can ask of roster. Every method
// acts as the principal the Service was made for, and enforces the rules.
type Service interface {
	Init(ctx context.Context, p InitParams) (InitResult, error)
	Whoami(ctx context.Context) (Principal, error)
	// ChangePassword changes the acting user's own password; the current
	// one must be given (R10).
	ChangePassword(ctx context.Context, p ChangePassword) (User, error)
	// Notices lists the changes others made to the acting user's roles and
	// projects since the user last looked, newest first; with markSeen the
	// user has now looked (R15).
	Notices(ctx context.Context, markSeen bool) ([]Notice, error)

	ListUsers(ctx context.Context, f UserFilter) (Page[User], error)
	GetUser(ctx context.Context, ref string) (User, error)
	CreateUser(ctx context.Context, p CreateUser) (UserResult, error)
	UpdateUser(ctx context.Context, ref string, p UpdateUser) (UserResult, error)
	SetRoles(ctx context.Context, ref string, roles []string) (UserResult, error)
	SetPassword(ctx context.Context, ref string, p SetPassword) (UserResult, error)
	DeactivateUser(ctx context.Context, ref, reason string) (UserResult, error)
	ReactivateUser(ctx context.Context, ref string) (UserResult, error)
	// SetExpiry sets when a user's account expires: expires as
	// ParseExpiry reads it, judged by the service's clock ("never"
	// removes the expiry).
	SetExpiry(ctx context.Context, ref, expires string) (UserResult, error)
	DeleteUser(ctx context.Context, ref string) (User, error)
	// SetProjects makes a user's projects exactly slugs, in one
	// transaction; R12 applies to each project added or removed.
	SetProjects(ctx context.Context, ref string, slugs []string) (UserResult, error)

	// Import creates and changes users from a CSV or JSON-lines file in
	// one transaction: all of it, or, when any line is bad, nothing, with
	// every bad line reported (*InputErrors).
	Import(ctx context.Context, r io.Reader, p ImportParams) (Plan, error)
	// Export calls fn for every user the actor may see, in email order,
	// reading a page at a time.
	Export(ctx context.Context, fn func(UserRecord) error) error
	// Apply makes the store match a manifest (YAML or JSON) in one
	// transaction, and reports the plan it carried out.
	Apply(ctx context.Context, r io.Reader, p ApplyParams) (Plan, error)

	ListRoles(ctx context.Context) ([]Role, error)
	GetRole(ctx context.Context, name string) (Role, error)
	CreateRole(ctx context.Context, p CreateRole) (Role, error)
	UpdateRole(ctx context.Context, name string, p UpdateRole) (RoleResult, error)
	DeleteRole(ctx context.Context, name, reassign string) (Role, error)
	AssignRole(ctx context.Context, role, ref string) (UserResult, error)
	UnassignRole(ctx context.Context, role, ref string) (UserResult, error)

	ListPermissions(ctx context.Context) ([]Permission, error)
	CreatePermission(ctx context.Context, p CreatePermission) (Permission, error)
	DeletePermission(ctx context.Context, name string) (Permission, error)

	CreateInvitation(ctx context.Context, p CreateInvitation) (Invitation, error)
	ListInvitations(ctx context.Context, status InviteStatus) ([]Invitation, error)
	ResendInvitation(ctx context.Context, email string, ttl time.Duration, send bool) (Invitation, error)
	RevokeInvitation(ctx context.Context, email string) (InvitationResult, error)
	// AcceptInvitation needs no principal: the token is the credential.
	AcceptInvitation(ctx context.Context, p AcceptInvitation) (User, error)
	CreateResetLink(ctx context.Context, ref string, ttl time.Duration, send bool) (ResetLink, error)
	// RedeemResetLink needs no principal: the token is the credential.
	RedeemResetLink(ctx context.Context, token, password string) (User, error)

	ListProjects(ctx context.Context) ([]Project, error)
	GetProject(ctx context.Context, slug string) (Project, error)
	CreateProject(ctx context.Context, p CreateProject) (Project, error)
	UpdateProject(ctx context.Context, slug string, p UpdateProject) (ProjectResult, error)
	ArchiveProject(ctx context.Context, slug string, archived bool) (ProjectResult, error)
	DeleteProject(ctx context.Context, slug string) (Project, error)
	// AddMembers and RemoveMembers change several memberships in one
	// transaction: each user's outcome is reported apart, and one user's
	// failure does not stop the others.
	AddMembers(ctx context.Context, slug string, refs []string) ([]MemberOutcome, error)
	RemoveMembers(ctx context.Context, slug string, refs []string) ([]MemberOutcome, error)

	CreateToken(ctx context.Context, p CreateToken) (APIToken, error)
	ListTokens(ctx context.Context, f TokenFilter) ([]APIToken, error)
	RevokeToken(ctx context.Context, id int64) (TokenResult, error)
	RotateToken(ctx context.Context, p RotateToken) (APIToken, error)

	Can(ctx context.Context, ref, permission, project string) (Decision, error)

	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// StreamAudit calls fn for each event s selects, oldest first, a page
	// at a time (flat memory: audit export and tail). With s.Follow it
	// then waits for new events and calls fn for each until ctx ends.
	StreamAudit(ctx context.Context, s AuditStream, fn func(AuditEvent) error) error
	// VerifyAudit checks the audit log's hash chain (audit verify).
	VerifyAudit(ctx context.Context) (AuditVerification, error)
	// PruneAudit deletes the events recorded before a time, or before the
	// organisation's audit.retention when before is zero, and records
	// where the chain now starts (audit prune).
	PruneAudit(ctx context.Context, before time.Time) (AuditPruneResult, error)

	GetSettings(ctx context.Context) (Settings, error)
	SetSetting(ctx context.Context, key, value string) (SettingResult, error)

	// Organisations (DESIGN.md, "Organisations"): system administrators
	// (orgs.view, orgs.manage) see and manage all of them; an
	// organisation's own owner may see and delete it.
	ListOrgs(ctx context.Context) ([]Org, error)
	GetOrg(ctx context.Context, slug string) (Org, error)
	// CreateOrg makes an organisation with the locked roles, default
	// settings and its first owner, in one transaction.
	CreateOrg(ctx context.Context, p CreateOrg) (OrgResult, error)
	// UpdateOrg renames, suspends or resumes an organisation.
	UpdateOrg(ctx context.Context, slug string, p UpdateOrg) (OrgResult, error)
	// DeleteOrg removes an organisation and everything of it; confirm
	// must repeat its slug. The system organisation cannot be deleted.
	DeleteOrg(ctx context.Context, slug, confirm string) (OrgResult, error)
}

// CreateOrg asks for a new organisation and its first owner, who gets a
// password (given or random), an invitation, or neither.
type CreateOrg struct {
	Slug           string
	Name           string
	OwnerEmail     string
	OwnerName      string
	Password       string
	RandomPassword bool
	Invite         bool
	Send           bool // mail the invitation
	IfNotExists    bool
}

// UpdateOrg changes an organisation; nil fields stay as they are.
type UpdateOrg struct {
	Name      *string
	Suspended *bool
}

// OrgResult says what an organisation command did. Owner, Password and
// Invitation are set by CreateOrg: the password or the invitation's link
// shown once.
type OrgResult struct {
	Org        Org         `json:"org"`
	Changed    bool        `json:"changed"`
	Owner      *User       `json:"owner,omitempty"`
	Password   string      `json:"password,omitempty"`
	Invitation *Invitation `json:"invitation,omitempty"`
	// Deleted counts what DeleteOrg removed, by kind: users, projects,
	// roles, audit events.
	Deleted map[string]int `json:"deleted,omitempty"`
}

// Notice tells a user of a change someone else made to their roles or
// project memberships: who, what, when.
type Notice struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	// Text says what changed, addressed to the user: "added you to the
	// project apollo".
	Text string `json:"text"`
}

// Principal is who a Service acts as.
type Principal struct {
	// User is the acting user; nil for the local superuser.
	User *User `json:"user"`
	// Name is how the audit log names the actor: an email or "local:<os user>".
	Name string `json:"name"`
	// Org is the slug of the organisation the actor acts in.
	Org string `json:"org"`
	// Via is how the actor reached roster: "local" or "token:<id>".
	Via string `json:"via"`
	// Permissions are the effective permissions, implications applied:
	// for a scoped token, only those its scope keeps.
	Permissions []string `json:"permissions"`
	// Scope is the scope of the token acting, nil when it has none;
	// ScopeRemoved the permissions its user holds that the scope leaves out.
	Scope        []string `json:"scope,omitempty"`
	ScopeRemoved []string `json:"scope_removed,omitempty"`
	// PasswordPolicy is what a new password must meet (R10), which
	// everyone signed in may see (R16).
	PasswordPolicy PasswordPolicy `json:"password_policy"`
}

// PasswordPolicy is the password rule of R10 as configured.
type PasswordPolicy struct {
	MinLength int `json:"min_length"`
	MaxLength int `json:"max_length"`
}

// InitParams bootstraps a store.
type InitParams struct {
	// Org and OrgName name the system organisation init makes (slug
	// "default" and name "default" when empty).
	Org        string
	OrgName    string
	OwnerEmail string
	OwnerName  string
	// Password is the owner's password; empty with RandomPassword false
	// means the owner has no password yet.
	Password       string
	RandomPassword bool
}

// InitResult says what Init did.
type InitResult struct {
	Owner    User   `json:"owner"`
	Changed  bool   `json:"changed"`
	Password string `json:"password,omitempty"` // generated, shown once
}

// UserFilter selects and pages users. After is the cursor of the previous page.
type UserFilter struct {
	// Kind keeps the accounts of a kind; empty keeps every kind.
	Kind Kind
	// Status keeps users of a status as read at Now: active and invited
	// exclude the expired, StatusExpired keeps only them.
	Status  Status
	Role    string
	Project string
	Search  string
	Limit   int
	After   string
	// Expiring, when positive, keeps the users whose account expires
	// after Now and within Expiring of it (user list --expiring 30d).
	Expiring time.Duration
	// Now is the instant Status and Expiring are judged at. The core
	// sets it from its clock; what a caller gives is ignored.
	Now time.Time
}

// CreateUser creates one user.
type CreateUser struct {
	// Kind is KindService for a service account, named by Username and
	// with no Email; empty or KindPerson for a person.
	Kind               Kind
	Email              string
	Name               string
	Username           string
	Roles              []string
	Links              map[string]string
	Projects           []string
	Password           string
	RandomPassword     bool
	MustChangePassword bool
	IfNotExists        bool
	// Expires, when set, is when the account expires, as ParseExpiry
	// reads it against the service's clock.
	Expires string
}

// UpdateUser changes a user's profile; nil fields stay as they are.
type UpdateUser struct {
	Name     *string
	Email    *string
	Username *string
	Links    map[string]string
	Unlink   []string
}

// SetPassword sets a user's password.
type SetPassword struct {
	Password           string
	RandomPassword     bool
	MustChangePassword bool
	RevokeSessions     bool
}

// ChangePassword changes one's own password (R15, R18): it ends one's
// other browser sessions and pending sign-in and reset links, and with
// RevokeTokens one's API tokens too.
type ChangePassword struct {
	Current, New string
	RevokeTokens bool
}

// UserResult is a user after a change. Changed is false when the result
// already held (R13). Password is a generated password, shown once.
type UserResult struct {
	User     User   `json:"user"`
	Changed  bool   `json:"changed"`
	Password string `json:"password,omitempty"`
	// Differs says where a user that a create with IfNotExists found
	// differs from what was asked (see Existing).
	Differs []string `json:"differs,omitempty"`
}

// Existing marks what a create with IfNotExists found already there, so
// that nothing was written (R13). Differs says, one field at a time,
// where it is not what was asked: "roles [manager], not [admin]". Only
// fields the create gave are compared, and only what the actor may see.
type Existing struct {
	Differs []string `json:"differs"`
}

// CreateRole creates a custom role.
type CreateRole struct {
	Name        string
	Description string
	Permissions []string
	IfNotExists bool
}

// UpdateRole edits a custom role.
type UpdateRole struct {
	Description *string
	Add         []string
	Remove      []string
}

// RoleResult is a role after a change.
type RoleResult struct {
	Role    Role `json:"role"`
	Changed bool `json:"changed"`
}

// CreatePermission registers an application permission.
type CreatePermission struct {
	Name        string
	Description string
	Implies     []string
	IfNotExists bool
}

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	Since  time.Time
	Until  time.Time
	Actor  string
	Action string
	Target string
	Limit  int
}

// AuditStream selects the events of StreamAudit, oldest first.
type AuditStream struct {
	After  int64 // only events with a larger id: where a reader stopped
	Since  time.Time
	Until  time.Time
	Follow bool // once caught up, wait for new events
}

// AuditPruneResult says what audit prune deleted, before when, and the
// hash the first event kept chains to (hex), which the audit.prune event
// records.
type AuditPruneResult struct {
	Before  time.Time `json:"before"`
	Deleted int       `json:"deleted"`
	Anchor  string    `json:"anchor,omitempty"`
	Changed bool      `json:"changed"`
}

// AuditVerification is what audit verify found in the audit log's hash
// chain: how many events it read, from which id to which, and whether the
// chain is intact; if not, the first event where it breaks and how.
type AuditVerification struct {
	Events   int    `json:"events"`
	FirstID  int64  `json:"first_id"`
	LastID   int64  `json:"last_id"`
	Intact   bool   `json:"intact"`
	BrokenAt int64  `json:"broken_at,omitempty"`
	Problem  string `json:"problem,omitempty"` // changed, removed or inserted
	Message  string `json:"message,omitempty"`
}

// SettingResult is the value of a setting after a change.
type SettingResult struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Changed bool   `json:"changed"`
}
