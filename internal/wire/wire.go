// Package wire is roster's HTTP protocol, shared by the server (package
// api) and the client (package client): the routes, the request bodies,
// and the table between domain errors and HTTP statuses with stable codes,
// so that an error crosses the wire and comes back as the same sentinel.
package wire

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/roster"
)

// Prefix is the API's path prefix.
const Prefix = "/api/v1"

// ErrorBody is the JSON of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong and what to do.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Lines are the bad lines of an import or apply file: every one, or
	// the first 1,000 by line number and MoreLines the count of the rest.
	Lines     []roster.LineError `json:"lines,omitempty"`
	MoreLines int                `json:"more_lines,omitempty"`
}

// The stable error codes.
const (
	CodeInvalid         = "invalid"
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodeForbidden       = "forbidden"
	CodeUnauthenticated = "unauthenticated"
	CodeUnavailable     = "unavailable"
	CodeTooLarge        = "too_large"
	CodeRateLimited     = "rate_limited"
	CodeInternal        = "internal"
)

var table = []struct {
	kind   error
	status int
	code   string
}{
	{roster.ErrInvalid, http.StatusBadRequest, CodeInvalid},
	{roster.ErrNotFound, http.StatusNotFound, CodeNotFound},
	{roster.ErrConflict, http.StatusConflict, CodeConflict},
	{roster.ErrForbidden, http.StatusForbidden, CodeForbidden},
	{roster.ErrUnauthenticated, http.StatusUnauthorized, CodeUnauthenticated},
	{roster.ErrUnavailable, http.StatusServiceUnavailable, CodeUnavailable},
}

// Status maps an error to its HTTP status and code; unknown errors are
// internal.
func Status(err error) (int, string) {
	for _, t := range table {
		if errors.Is(err, t.kind) {
			return t.status, t.code
		}
	}
	return http.StatusInternalServerError, CodeInternal
}

// Detail is the body of an error: its code, message and hint. An internal
// error's message is not told to the caller.
func Detail(err error) ErrorDetail {
	_, code := Status(err)
	if code == CodeInternal {
		return ErrorDetail{Code: code, Message: "internal error; the server log has the details"}
	}
	d := ErrorDetail{Code: code, Message: err.Error(), Hint: roster.Hint(err)}
	var ie *roster.InputErrors
	if errors.As(err, &ie) {
		d.Lines, d.MoreLines = ie.Lines, ie.More()
	}
	return d
}

// Err turns an error body back into the domain error it came from.
func Err(d ErrorDetail) error {
	kind := errors.New("internal error")
	switch d.Code {
	case CodeTooLarge:
		kind = roster.ErrInvalid
	case CodeRateLimited:
		kind = roster.ErrUnavailable
	default:
		for _, t := range table {
			if t.code == d.Code {
				kind = t.kind
			}
		}
	}
	if len(d.Lines) > 0 {
		what, _, _ := strings.Cut(d.Message, ":")
		return &roster.InputErrors{Kind: kind, What: what, Lines: d.Lines, Total: len(d.Lines) + d.MoreLines}
	}
	return &roster.Error{Kind: kind, Message: d.Message, Hint: d.Hint}
}

// Page is a page of a keyed listing.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// Request bodies; field names are the API's.

// CreateUser is POST /users.
type CreateUser struct {
	// Kind is "service" for a service account, named by Username with
	// no Email; absent for a person.
	Kind               roster.Kind       `json:"kind,omitempty"`
	Email              string            `json:"email,omitempty"`
	Name               string            `json:"name,omitempty"`
	Username           string            `json:"username,omitempty"`
	Roles              []string          `json:"roles,omitempty"`
	Projects           []string          `json:"projects,omitempty"`
	Links              map[string]string `json:"links,omitempty"`
	Password           string            `json:"password,omitempty"`
	RandomPassword     bool              `json:"random_password,omitempty"`
	MustChangePassword bool              `json:"must_change_password,omitempty"`
	IfNotExists        bool              `json:"if_not_exists,omitempty"`
	// Expires is when the account expires, as roster.ParseExpiry reads
	// it against the server's clock.
	Expires string `json:"expires,omitempty"`
}

// UpdateUser is PATCH /users/{ref}; absent fields stay.
type UpdateUser struct {
	Name     *string           `json:"name,omitempty"`
	Email    *string           `json:"email,omitempty"`
	Username *string           `json:"username,omitempty"`
	Links    map[string]string `json:"links,omitempty"`
	Unlink   []string          `json:"unlink,omitempty"`
}

// Roles is PUT /users/{ref}/roles.
type Roles struct {
	Roles []string `json:"roles"`
}

// SetPassword is POST /users/{ref}/password.
type SetPassword struct {
	Password           string `json:"password,omitempty"`
	RandomPassword     bool   `json:"random_password,omitempty"`
	MustChangePassword bool   `json:"must_change_password,omitempty"`
	RevokeSessions     bool   `json:"revoke_sessions,omitempty"`
}

// Deactivate is POST /users/{ref}/deactivate.
type Deactivate struct {
	Reason string `json:"reason,omitempty"`
}

// Expiry is POST /users/{ref}/expiry: a date, an RFC 3339 time, a
// duration from the server's now, or "never".
type Expiry struct {
	Expires string `json:"expires"`
}

// Link is POST /users/{ref}/reset-link and POST /invitations/{email}/resend.
type Link struct {
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
	Send       bool  `json:"send,omitempty"`
}

// TTL is the lifetime asked for; 0 means the setting's default.
func (l Link) TTL() time.Duration { return time.Duration(l.TTLSeconds) * time.Second }

// ChangePassword is POST /account/password.
type ChangePassword struct {
	Current      string `json:"current"`
	New          string `json:"new"`
	RevokeTokens bool   `json:"revoke_tokens,omitempty"`
}

// CreateRole is POST /roles.
type CreateRole struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
	IfNotExists bool     `json:"if_not_exists,omitempty"`
}

// UpdateRole is PATCH /roles/{name}.
type UpdateRole struct {
	Description *string  `json:"description,omitempty"`
	Add         []string `json:"add,omitempty"`
	Remove      []string `json:"remove,omitempty"`
}

// CreatePermission is POST /permissions.
type CreatePermission struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Implies     []string `json:"implies,omitempty"`
	IfNotExists bool     `json:"if_not_exists,omitempty"`
}

// SetSetting is PUT /settings/{key}.
type SetSetting struct {
	Value string `json:"value"`
}

// CreateInvitation is POST /invitations.
type CreateInvitation struct {
	Email       string   `json:"email"`
	Name        string   `json:"name,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	Projects    []string `json:"projects,omitempty"`
	TTLSeconds  int64    `json:"ttl_seconds,omitempty"`
	Send        bool     `json:"send,omitempty"`
	IfNotExists bool     `json:"if_not_exists,omitempty"`
}

// AcceptInvitation is POST /invitations/accept, which needs no token.
type AcceptInvitation struct {
	Token    string `json:"token"`
	Name     string `json:"name,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password"`
}

// RedeemReset is POST /reset, which needs no token.
type RedeemReset struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// CreateProject is POST /projects.
type CreateProject struct {
	Slug        string `json:"slug"`
	Name        string `json:"name,omitempty"`
	IfNotExists bool   `json:"if_not_exists,omitempty"`
}

// UpdateProject is PATCH /projects/{slug}.
type UpdateProject struct {
	Slug *string `json:"slug,omitempty"`
	Name *string `json:"name,omitempty"`
}

// Archive is POST /projects/{slug}/archive.
type Archive struct {
	Archived bool `json:"archived"`
}

// Members is POST /projects/{slug}/members and .../members/remove.
type Members struct {
	Users []string `json:"users"`
}

// MemberOutcome is one user's outcome of a membership change.
type MemberOutcome struct {
	Ref    string              `json:"ref"`
	Result roster.MemberResult `json:"result"`
	Error  *ErrorDetail        `json:"error,omitempty"`
}

// CreateToken is POST /tokens. Scope null (or absent) makes a token
// with no scope; an empty array is refused, not taken for none, which is
// why it is a pointer: omitempty would drop an empty one.
type CreateToken struct {
	User       string     `json:"user,omitempty"`
	Name       string     `json:"name,omitempty"`
	TTLSeconds int64      `json:"ttl_seconds,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Scope      *[]string  `json:"scope,omitempty"`
}

// RotateToken is POST /tokens/{id}/rotate's body, which may be left out:
// the token then keeps its lifetime.
type RotateToken struct {
	TTLSeconds int64      `json:"ttl_seconds,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

// SignIn is POST /login, which needs no token: an email and password for
// a new API token.
type SignIn struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name,omitempty"`
	// Org is the slug of the organisation to sign in to: the same email
	// may hold an account in several. Empty is the system organisation.
	Org string `json:"org,omitempty"`
}

// CreateOrg is POST /orgs: an organisation and its first owner.
type CreateOrg struct {
	Slug           string `json:"slug"`
	Name           string `json:"name,omitempty"`
	OwnerEmail     string `json:"owner_email"`
	OwnerName      string `json:"owner_name,omitempty"`
	Password       string `json:"password,omitempty"`
	RandomPassword bool   `json:"random_password,omitempty"`
	Invite         bool   `json:"invite,omitempty"`
	Send           bool   `json:"send,omitempty"`
	IfNotExists    bool   `json:"if_not_exists,omitempty"`
}

// UpdateOrg is PATCH /orgs/{org}; absent fields stay.
type UpdateOrg struct {
	Name      *string `json:"name,omitempty"`
	Suspended *bool   `json:"suspended,omitempty"`
}

// DeleteOrg is the optional body of DELETE /orgs/{org}, which may give
// confirm as a query parameter instead.
type DeleteOrg struct {
	Confirm string `json:"confirm"`
}

// OrgsPrefix is the prefix under which every organisation-scoped route
// is also served, acting in the organisation {org} names.
const OrgsPrefix = Prefix + "/orgs/{org}"

// SetProjects is PUT /users/{ref}/projects.
type SetProjects struct {
	Projects []string `json:"projects"`
}

// ContentNDJSON is the media type of import's JSON lines and export's stream.
const ContentNDJSON = "application/x-ndjson"

// ContentEventStream is the media type of the audit stream (Server-Sent
// Events).
const ContentEventStream = "text/event-stream"

// PruneAudit is the body of POST /audit/prune: events before Before go;
// zero means before the organisation's audit.retention.
type PruneAudit struct {
	Before time.Time `json:"before,omitzero"`
}

// ExportLine is one line of GET /export: a user, or, when the export
// fails after it began, the error that stopped it, so that a cut stream
// is never taken for a whole one.
type ExportLine struct {
	roster.UserRecord
	Error *ErrorDetail `json:"error,omitempty"`
}
