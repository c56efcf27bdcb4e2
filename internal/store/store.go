// Package store is the port the core writes through: a transaction with
// the queries the rules need, and the rows they read and write. Two
// adapters implement it and pass one conformance suite (storetest):
// store/sqlite, the embedded default, and store/postgres, for many servers
// on one database. Dialects stay inside the adapters; the core never sees
// SQL.
package store

import (
	"context"
	"encoding/base64"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/roster"
)

// Store runs transactions. Write transactions are serialised (SQLite's
// write lock, or PostgreSQL's advisory lock), so that every rule checked
// inside one holds when it commits, across processes and servers.
type Store interface {
	// Read runs fn in a read-only transaction.
	Read(ctx context.Context, fn func(Tx) error) error
	// Lookup runs fn, which makes one read statement, where no snapshot
	// across statements is needed: an adapter may run it outside any
	// transaction, sparing a request's hot look-up (its token) a BEGIN
	// and a ROLLBACK.
	Lookup(ctx context.Context, fn func(Tx) error) error
	// Write runs fn in a write transaction, committed when fn returns nil.
	Write(ctx context.Context, fn func(Tx) error) error
	// SchemaVersion is the schema version this build writes.
	SchemaVersion() int
	Close() error
}

// Admin is a store as roster db and roster serve see it: besides
// transactions, its schema and its upkeep. Both adapters implement it.
type Admin interface {
	Store
	// Migrate applies pending schema migrations and reports how many.
	Migrate(ctx context.Context) (applied int, err error)
	// Version is the store's schema version.
	Version(ctx context.Context) (int, error)
	// Check verifies the store's integrity; problems lists what is wrong.
	Check(ctx context.Context) (version int, problems []string, err error)
	// Backup writes a consistent copy to path, or says why it cannot.
	Backup(ctx context.Context, path string) error
	// Path names the store in messages: a file, or a URL without its
	// password.
	Path() string
	// ReadOnly reports whether this process may only read the store.
	ReadOnly() bool
}

// IsURL reports whether a --db value names a PostgreSQL database rather
// than a SQLite file.
func IsURL(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Organisations (DESIGN.md, "Organisations"; R21). Everything in a store
// belongs to one organisation. A transaction acts in the one its context
// names (WithOrg), and every query of Tx reads and writes only that
// organisation's rows, except the Org* methods, which manage
// organisations themselves, and the look-ups by secret (TokenUser,
// SessionUser, LinkByHash), whose rows say which organisation they are of
// so that the core can check it.

// SystemOrg is the id of the system organisation: the first one, made by
// init, and the one a store made before organisations migrates into.
const SystemOrg int64 = 1

type orgKey struct{}

// WithOrg makes ctx name the organisation its transactions act in.
func WithOrg(ctx context.Context, org int64) context.Context {
	return context.WithValue(ctx, orgKey{}, org)
}

// OrgOf is the organisation ctx names: SystemOrg when it names none.
func OrgOf(ctx context.Context) int64 {
	if id, ok := OrgNamed(ctx); ok {
		return id
	}
	return SystemOrg
}

// OrgNamed is the organisation ctx names, if it names one.
func OrgNamed(ctx context.Context) (int64, bool) {
	id, ok := ctx.Value(orgKey{}).(int64)
	return id, ok && id > 0
}

// OrgRow is a stored organisation.
type OrgRow struct {
	ID int64
	roster.Org
}

// Tx is one transaction; its methods are the store's queries.
type Tx interface {
	DeviceCodes
	// Organisations.
	// Org is the id of the organisation this transaction acts in.
	Org() int64
	// In is this same transaction acting in another organisation: what
	// one writes, the other sees, and both commit or neither.
	In(org int64) Tx
	// Orgs lists the organisations by slug (without counts).
	Orgs(ctx context.Context) ([]OrgRow, error)
	// ManyOrgs reports whether there is more than one organisation,
	// reading two rows at most: pages and links ask it on every request.
	ManyOrgs(ctx context.Context) (bool, error)
	// OrgBySlug finds an organisation; found is false when there is none.
	OrgBySlug(ctx context.Context, slug string) (OrgRow, bool, error)
	// OrgByID finds an organisation by id.
	OrgByID(ctx context.Context, id int64) (OrgRow, bool, error)
	// InsertOrg stores a new organisation with roster's permissions
	// (roster.OrgPermissions(false)) and the locked roles, and returns its
	// id. A slug taken is ErrConflict.
	InsertOrg(ctx context.Context, o roster.Org, now time.Time) (int64, error)
	// UpdateOrg writes an organisation's slug, name and status (a slug
	// taken is ErrConflict).
	UpdateOrg(ctx context.Context, o OrgRow) error
	// DeleteOrg removes an organisation and everything of it: users and
	// all that hangs on them, roles, permissions, projects, settings, the
	// audit log. The system organisation cannot be deleted
	// (roster.ErrInvalid); an unknown id is roster.ErrNotFound.
	DeleteOrg(ctx context.Context, id int64) error
	// CountProjects counts this organisation's projects.
	CountProjects(ctx context.Context) (int, error)

	// Invitations and reset links.
	// InsertLink stores a link.
	InsertLink(ctx context.Context, l Link) (int64, error)
	// LinkByHash finds a link by its token's hash; found is false when none.
	LinkByHash(ctx context.Context, kind LinkKind, hash []byte) (Link, bool, error)
	// CountLinksSince counts a user's links of a kind made at or after
	// since, whatever became of them.
	CountLinksSince(ctx context.Context, userID int64, kind LinkKind, since time.Time) (int, error)
	// LatestLink returns a user's newest link of a kind.
	LatestLink(ctx context.Context, userID int64, kind LinkKind) (Link, bool, error)
	// ConsumeLink marks a link used if, and only if, it is still live at now:
	// the one conditional UPDATE that makes a link single-use under
	// concurrency. It reports whether this call consumed it.
	ConsumeLink(ctx context.Context, id int64, now time.Time) (bool, error)
	// RevokeLinks revokes a user's live links of a kind ("" for every kind)
	// and returns how many it revoked.
	RevokeLinks(ctx context.Context, userID int64, kind LinkKind, now time.Time, reason string) (int, error)
	// ListInvitations returns invitations, newest first.
	ListInvitations(ctx context.Context) ([]Link, error)
	// MarkSent records that a link was mailed.
	MarkSent(ctx context.Context, id int64, now time.Time) error

	// Projects and memberships.
	// ProjectBySlug finds a project; found is false when there is none.
	ProjectBySlug(ctx context.Context, slug string) (ProjectRow, bool, error)
	// ListProjects lists projects by slug: all of them, or with memberOf set
	// only those that user belongs to.
	ListProjects(ctx context.Context, memberOf int64) ([]roster.Project, error)
	// InsertProject stores a new project.
	InsertProject(ctx context.Context, p roster.Project, now time.Time) (int64, error)
	// UpdateProject writes a project's slug, name and archived state.
	UpdateProject(ctx context.Context, p ProjectRow, now time.Time) error
	// DeleteProject removes a project and its memberships.
	DeleteProject(ctx context.Context, id int64) error
	// IsMember reports whether a user belongs to a project.
	IsMember(ctx context.Context, projectID, userID int64) (bool, error)
	// AddMember adds a membership; added is false when it already existed.
	AddMember(ctx context.Context, projectID, userID int64, now time.Time) (bool, error)
	// RemoveMember removes a membership; removed is false when there was none.
	RemoveMember(ctx context.Context, projectID, userID int64) (bool, error)
	// Members lists a project's members by email.
	Members(ctx context.Context, projectID int64) ([]Member, error)

	// Roles, permissions, the audit log and settings.
	// LoadCatalog reads all permissions and roles (without holder counts).
	LoadCatalog(ctx context.Context) (Catalog, error)
	// CatalogVersion changes whenever a role, a permission or an
	// implication does, in any process: a cached catalog of the same
	// version is current.
	CatalogVersion(ctx context.Context) (int64, error)
	// Holders counts users per role.
	Holders(ctx context.Context) (map[string]int, error)
	// InsertRole stores a custom role with its permissions.
	InsertRole(ctx context.Context, r roster.Role) error
	// UpdateRoleDescription sets a role's description.
	UpdateRoleDescription(ctx context.Context, name, desc string) error
	// SetRolePermissions replaces a role's permissions.
	SetRolePermissions(ctx context.Context, role string, perms []string) error
	// DeleteRole removes a role and its permission grants.
	DeleteRole(ctx context.Context, name string) error
	// RoleHolderIDs lists the ids of users holding a role.
	RoleHolderIDs(ctx context.Context, role string) ([]int64, error)
	// MoveRoleHolders gives every holder of from the role to (once) and takes
	// from away.
	MoveRoleHolders(ctx context.Context, from, to string) error
	// InsertPermission registers an application permission.
	InsertPermission(ctx context.Context, p roster.Permission) error
	// PermissionUsers lists the roles granting a permission and the
	// permissions implying it: what stops its deletion.
	PermissionUsers(ctx context.Context, name string) (roles, impliedBy []string, err error)
	// DeletePermission removes an application permission.
	DeletePermission(ctx context.Context, name string) error
	// InsertAudit records an event.
	InsertAudit(ctx context.Context, e AuditEntry) error
	// InsertAudits records events, in order, as InsertAudit would one by
	// one, for writes of many things at once (import, apply).
	InsertAudits(ctx context.Context, entries []AuditEntry) error
	// ListAudit returns events newest first.
	ListAudit(ctx context.Context, q AuditQuery) ([]roster.AuditEvent, error)
	// AuditChain returns up to limit events with an id above afterID,
	// oldest first, as stored, with their hashes (see ChainedEvent):
	// what audit verify checks, and what export and tail page through.
	// InsertAudit and InsertAudits chain each event to the one before it
	// in the organisation (see Chain).
	AuditChain(ctx context.Context, afterID int64, limit int) ([]ChainedEvent, error)
	// PruneAudit deletes the events recorded before a time, keeping the
	// newest event whatever its time, and returns how many it deleted and
	// the hash the first kept event chains to (nil when none was deleted).
	PruneAudit(ctx context.Context, before time.Time) (deleted int, anchor []byte, err error)
	// Settings reads the stored settings (without defaults).
	Settings(ctx context.Context) (map[string]string, error)
	// SetSetting stores one setting.
	SetSetting(ctx context.Context, key, value string) error

	// API tokens.
	// InsertToken stores a token and returns its id.
	InsertToken(ctx context.Context, userID int64, name string, hash []byte, creator string, now time.Time, expires *time.Time) (int64, error)
	// TokenByID finds a token; found is false when there is none.
	TokenByID(ctx context.Context, id int64) (TokenRow, bool, error)
	// TokenByHash finds a token by its hash.
	TokenByHash(ctx context.Context, hash []byte) (TokenRow, bool, error)
	// TokenUser finds a token by its hash together with its user, roles
	// loaded, in one statement: authenticating a request is this one read.
	TokenUser(ctx context.Context, hash []byte) (TokenRow, UserRow, bool, error)
	// ListTokens lists tokens, of one user or (userID 0) of everyone.
	ListTokens(ctx context.Context, userID int64) ([]roster.APIToken, error)
	// RevokeTokens revokes a user's live tokens, or one token when id != 0,
	// and returns how many it revoked.
	RevokeTokens(ctx context.Context, userID, id int64, now time.Time) (int, error)
	// TouchToken records a use and the client address it came from, at
	// most once a minute, to spare writes.
	TouchToken(ctx context.Context, id int64, now time.Time, from string) error
	// SetTokenScope limits a token to scope's permissions (nil: all of
	// its user's).
	SetTokenScope(ctx context.Context, id int64, scope []string) error
	// ReplaceTokenSecret gives a token a new secret and lifetime (rotation).
	ReplaceTokenSecret(ctx context.Context, id int64, hash []byte, now time.Time, expires *time.Time) error

	// Browser sessions and notices.
	// InsertSession stores a new session and returns its id.
	InsertSession(ctx context.Context, s SessionRow) (int64, error)
	// SessionUser finds a session by its token's hash together with its
	// user, roles loaded, in one statement, as TokenUser does for tokens.
	SessionUser(ctx context.Context, hash []byte) (SessionRow, UserRow, bool, error)
	// TouchSession records activity on a session at now (its idle
	// lifetime counts from the last) if the last recorded is at or before
	// stale: the caller spares writes by recording only so often.
	TouchSession(ctx context.Context, id int64, now, stale time.Time) error
	// EndSessions deletes a user's sessions, or only the one with id when
	// id != 0, and returns how many it deleted.
	EndSessions(ctx context.Context, userID, id int64) (int, error)
	// EndSessionsExcept deletes a user's sessions but the one with id keep
	// (0 keeps none), and returns how many it deleted.
	EndSessionsExcept(ctx context.Context, userID, keep int64) (int, error)
	// NoticesSeen returns the id of the newest audit event a user has seen
	// as a notice, or 0 when they never looked.
	NoticesSeen(ctx context.Context, userID int64) (int64, error)
	// SetNoticesSeen records that a user has seen notices up to an event.
	SetNoticesSeen(ctx context.Context, userID, auditID int64) error

	// Users.
	// UserByRef finds a user by email, username, numeric id or kind:value link,
	// with roles and links loaded.
	UserByRef(ctx context.Context, ref string) (UserRow, error)
	// EmailTaken reports the id of the user holding email in any letter case.
	EmailTaken(ctx context.Context, email string) (int64, error)
	// UsernameTaken reports the id of the user holding username, or 0.
	UsernameTaken(ctx context.Context, username string) (int64, error)
	// LinkTaken reports the id of the user linked to kind=value, or 0.
	LinkTaken(ctx context.Context, kind, value string) (int64, error)
	// InsertUser stores a new user with its roles and links and returns its id.
	InsertUser(ctx context.Context, u UserRow) (int64, error)
	// UpdateUser writes a user's own columns (not roles or links).
	UpdateUser(ctx context.Context, u UserRow) error
	// DeleteUser removes a user; roles and links go with it.
	DeleteUser(ctx context.Context, id int64) error
	// SetUserRoles replaces a user's roles.
	SetUserRoles(ctx context.Context, id int64, roles []string) error
	// SetLink links a user to kind=value, replacing the user's link of that kind.
	SetLink(ctx context.Context, id int64, kind, value string) error
	// DeleteLink removes a user's link of a kind.
	DeleteLink(ctx context.Context, id int64, kind string) error
	// ListUsers returns one page of users ordered by email, paged by key.
	// Status and Expiring are judged at f.Now (roster.User.StatusAt):
	// active and invited leave out the expired.
	ListUsers(ctx context.Context, f roster.UserFilter) (roster.Page[roster.User], error)
	// CountActive counts the users active at now, for the seat limit
	// (R9): neither expired (ExpiresAt at or before now) nor deactivated
	// nor invited. now is the caller's clock, so that every server counts
	// alike at the instant of an expiry, with no job to mark it.
	CountActive(ctx context.Context, now time.Time) (int, error)
	// CountActiveOwners counts the users holding the owner role who are
	// active at now (R2): an expired owner is no owner anyone can act as.
	CountActiveOwners(ctx context.Context, now time.Time) (int, error)
	// HasActed reports whether the user appears as an actor in the audit log.
	HasActed(ctx context.Context, id int64) (bool, error)
	// UserCount returns the number of users, for init.
	UserCount(ctx context.Context) (int, error)
	// FirstOwner returns the oldest user holding owner, if any.
	FirstOwner(ctx context.Context) (UserRow, bool, error)

	// Writes of many users at once (import, apply): what the methods
	// above do one row at a time, many rows to a statement.
	// UsersByKey returns the users holding handles (emails in any letter
	// case, or service accounts' names), keyed by roster.EmailKey of the
	// handle, with their roles, links and projects; a handle nobody
	// holds is absent. Import and apply read a chunk of their file so,
	// in one statement, rather than one user at a time.
	UsersByKey(ctx context.Context, handles []string) (map[string]UserRow, error)
	// InsertUsers stores new users with their roles and links, and their
	// status, deactivation and status before it as given, and returns
	// their ids in order. Ids are never reused, as with InsertUser.
	InsertUsers(ctx context.Context, users []UserRow) ([]int64, error)
	// InsertMembers adds memberships; one that exists already stays.
	InsertMembers(ctx context.Context, members []Membership, now time.Time) error

	// Idempotency keys: the answers to write requests, recorded in the
	// requests' own transactions (see core.Core.Idempotent).
	// Outcome finds the outcome recorded for a user's key; found is false
	// when there is none.
	Outcome(ctx context.Context, userID int64, keyHash []byte) (Outcome, bool, error)
	// InsertOutcome records an outcome; inserted is false, and nothing is
	// written, when the user's key already has one.
	InsertOutcome(ctx context.Context, o Outcome) (inserted bool, err error)
	// PruneOutcomes deletes the outcomes recorded before a time and
	// returns how many.
	PruneOutcomes(ctx context.Context, before time.Time) (int, error)
	// Savepoint runs fn as a transaction nested in this one: when fn
	// fails, what it wrote is undone and this transaction goes on, as
	// usable as before.
	Savepoint(ctx context.Context, fn func(Tx) error) error
}

// CommitUnknown is the error of a write transaction whose COMMIT was sent
// but whose answer never came (the connection to the database failed):
// whether it committed is not known. Err says so, and is what callers
// show; a caller able to find out (core.Core.Idempotent, by the request's
// recorded outcome) looks for this type.
type CommitUnknown struct{ Err *roster.Error }

func (e *CommitUnknown) Error() string { return e.Err.Error() }
func (e *CommitUnknown) Unwrap() error { return e.Err }

// Membership is a user's membership of a project, by ids.
type Membership struct {
	ProjectID, UserID int64
}

// Outcome is the answer to a write request made with an idempotency key,
// committed with the write, so that the same request sent again is
// answered with it instead of being done again. Neither the key nor the
// request is kept, only their SHA-256, and the body is stored as the core
// sealed it.
type Outcome struct {
	UserID    int64  // who made the request: 0 for a request without a token
	KeyHash   []byte // the key's SHA-256
	Request   []byte // the request's SHA-256: method, path, query and body
	Status    int    // the HTTP status answered
	Body      []byte // the answer
	CreatedAt time.Time
}

// UserRow is a user as stored: the domain user plus its secrets.
type UserRow struct {
	roster.User
	// OrgID is the user's organisation and OrgStatus its status, set when
	// read back (InsertUser and InsertUsers write into the transaction's).
	OrgID        int64
	OrgStatus    roster.OrgStatus
	PasswordHash string
	Reason       string
	// StatusBefore is the status a deactivated user had, and gets back.
	StatusBefore roster.Status
}

// LinkKind is an invitation or a reset link.
type LinkKind string

// The kinds of link.
const (
	LinkInvite LinkKind = "invite"
	LinkReset  LinkKind = "reset"
	LinkSignIn LinkKind = "signin" // a sign-in link a person asks for
)

// Link is a stored invitation or reset link.
type Link struct {
	ID        int64
	Kind      LinkKind
	UserID    int64
	Email     string // the user's, when read back
	Name      string // the user's, when read back
	TokenHash []byte
	CreatedBy int64  // 0: the local administrator
	Creator   string // audit name of who made it
	Roles     []string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
	SentAt    *time.Time // when it was mailed
	Reason    string
	OrgID     int64 // the user's organisation, when read back
}

// SessionRow is a signed-in browser session. Only the SHA-256 of its
// token is stored. It ends at ExpiresAt, or earlier when idle too long
// after LastSeenAt.
type SessionRow struct {
	ID         int64
	UserID     int64
	TokenHash  []byte
	Method     string // how it began: "password" or "link"
	Address    string // the client's address at sign-in
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// ProjectRow is a stored project.
type ProjectRow struct {
	ID int64
	roster.Project
}

// Member names one member of a project.
type Member struct {
	ID    int64
	Email string
}

// RoleRow is a role as stored. AllPermissions marks owner and admin, which
// hold every permission, including ones registered later.
type RoleRow struct {
	roster.Role
	AllPermissions bool
}

// Catalog is every permission with its implications and every role with
// its permissions: small, read whole, and used to compute effective
// permissions.
type Catalog struct {
	Permissions []roster.Permission // sorted by name
	Roles       map[string]RoleRow
}

// PermissionNames lists every permission name, sorted.
func (c Catalog) PermissionNames() []string {
	out := make([]string, len(c.Permissions))
	for i, p := range c.Permissions {
		out[i] = p.Name
	}
	return out
}

// Permission finds a permission by name.
func (c Catalog) Permission(name string) (roster.Permission, bool) {
	i := sort.Search(len(c.Permissions), func(i int) bool { return c.Permissions[i].Name >= name })
	if i < len(c.Permissions) && c.Permissions[i].Name == name {
		return c.Permissions[i], true
	}
	return roster.Permission{}, false
}

// Closure returns perms with every implication applied, sorted.
func (c Catalog) Closure(perms []string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		if q, ok := c.Permission(p); ok {
			for _, imp := range q.Implies {
				visit(imp)
			}
		}
	}
	for _, p := range perms {
		visit(p)
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// AuditEntry is an event to record; ActorID is set when the actor is a user.
type AuditEntry struct {
	roster.AuditEvent
	ActorID  int64
	TargetID int64
}

// AuditQuery selects events; ActorID and TargetID, when set, match users.
type AuditQuery struct {
	Since, Until time.Time
	ActorID      int64
	Actor        string
	TargetID     int64
	Target       string
	Action       string
	AfterID      int64 // only events with a larger id
	Limit        int
}

// TokenRow is a stored API token.
type TokenRow struct {
	roster.APIToken
	UserID int64
}

// cursorTag starts every cursor, so that text that merely happens to be
// valid base64 is refused rather than taken for a position.
const cursorTag = "email:"

// EncodeCursor makes an opaque paging cursor from a sort key.
func EncodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorTag + key))
}

// DecodeCursor reverses EncodeCursor.
func DecodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	key, ok := strings.CutPrefix(string(b), cursorTag)
	if err != nil || !ok || key == "" {
		return "", roster.Errorf(roster.ErrInvalid, "invalid cursor %q", c).WithHint("pass the cursor a previous page printed")
	}
	return key, nil
}

// The rules of reading a USER reference, of folding keys and of telling a
// missing user are the port's, not an adapter's: both adapters follow them.

// RefKind says which key a USER reference names.
type RefKind int

// The kinds of USER reference.
const (
	ByEmail RefKind = iota
	ByID
	ByLink
	ByUsername
)

// Ref is a USER reference as read: what it names and the key to look for.
type Ref struct {
	By       RefKind
	Key      string // the email key, the username key, or a link's value
	LinkKind string // ByLink: the link's kind
	ID       int64  // ByID
}

// ParseRef reads a USER reference: kind:value is a link (tested first, as
// a value may hold an '@': okta:ann@corp), then an email, a numeric id, or
// else a username.
func ParseRef(ref string) (Ref, error) {
	kind, value, ok := strings.Cut(ref, ":")
	if kind+":" == roster.ProviderLinkPrefix { // oidc:NAME:SUBJECT
		if name, sub, found := strings.Cut(value, ":"); found {
			kind, value = roster.ProviderLink(name), sub
		}
	}
	switch {
	case ref == "":
		return Ref{}, roster.Errorf(roster.ErrInvalid, "empty user reference")
	case ok && roster.ValidateLink(kind, "x") == nil:
		return Ref{By: ByLink, LinkKind: kind, Key: value}, nil
	case strings.Contains(ref, "@"):
		return Ref{By: ByEmail, Key: roster.EmailKey(ref)}, nil
	case strings.Trim(ref, "0123456789") == "":
		id, err := strconv.ParseInt(ref, 10, 64)
		if err != nil {
			return Ref{}, UserNotFound(ref)
		}
		return Ref{By: ByID, ID: id}, nil
	}
	return Ref{By: ByUsername, Key: FoldKey(ref)}, nil
}

// UserNotFound is the error for a reference that names nobody.
func UserNotFound(ref string) error {
	return roster.Errorf(roster.ErrNotFound, "user %s not found", ref).
		WithHint("give an email, a username, an id or kind:value; see roster user list")
}

// UserKey is the key a user is found and listed by (email_key): a
// person's email in lower case, a service account's name folded. A name
// holds no '@' (ValidateUsername) and an email always does, so the two
// never meet.
func UserKey(u roster.User) string {
	if u.Service() {
		return FoldKey(u.Username)
	}
	return roster.EmailKey(u.Email)
}

// KindOf is the kind u is stored as: a person unless it says otherwise.
func KindOf(u roster.User) roster.Kind {
	if u.Kind == "" {
		return roster.KindPerson
	}
	return u.Kind
}

// FoldKey is the form of a username or name that lookups and --search
// compare: lower-cased by Go, so that non-ASCII letters fold alike
// whatever the database's own lower() does ("Émile" is found by "émile").
func FoldKey(s string) string { return strings.ToLower(s) }

// likeEscape escapes LIKE's wildcards with '\'.
var likeEscape = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// SearchPattern is the LIKE pattern (escape character '\') that matches
// folded keys containing search.
func SearchPattern(search string) string {
	return "%" + likeEscape.Replace(FoldKey(search)) + "%"
}

// StatusBefore is the status a deactivated user gets back when reactivated.
func StatusBefore(u UserRow) roster.Status {
	if u.StatusBefore == "" {
		return roster.StatusActive
	}
	return u.StatusBefore
}
