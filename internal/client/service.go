package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// The roster.Service methods, in the order of docs/api.md's table. Each
// is one request; the server enforces every rule.

// Init has no endpoint: it creates the store, which lives on the server.
func (c *Client) Init(context.Context, roster.InitParams) (roster.InitResult, error) {
	return roster.InitResult{}, roster.Errorf(roster.ErrForbidden, "initialise the store on the server's host with roster init")
}

func (c *Client) Whoami(ctx context.Context) (roster.Principal, error) {
	return do[roster.Principal](ctx, c, http.MethodGet, "/whoami", nil)
}

func (c *Client) ChangePassword(ctx context.Context, p roster.ChangePassword) (roster.User, error) {
	return do[roster.User](ctx, c, http.MethodPost, "/account/password", wire.ChangePassword{Current: p.Current, New: p.New, RevokeTokens: p.RevokeTokens})
}

func (c *Client) Notices(ctx context.Context, markSeen bool) ([]roster.Notice, error) {
	if markSeen {
		return do[[]roster.Notice](ctx, c, http.MethodPost, "/account/notices/seen", nil)
	}
	return do[[]roster.Notice](ctx, c, http.MethodGet, "/account/notices", nil)
}

// Users.

func (c *Client) ListUsers(ctx context.Context, f roster.UserFilter) (roster.Page[roster.User], error) {
	p, err := do[wire.Page[roster.User]](ctx, c, http.MethodGet, query("/users",
		"kind", string(f.Kind), "status", string(f.Status), "role", f.Role, "project", f.Project, "search", f.Search,
		"limit", itoa(f.Limit), "after", f.After, "expiring_seconds", itoa(int(seconds(f.Expiring)))), nil)
	return roster.Page[roster.User]{Items: p.Items, Next: p.Next}, err
}

func (c *Client) GetUser(ctx context.Context, ref string) (roster.User, error) {
	return do[roster.User](ctx, c, http.MethodGet, segments("users", ref), nil)
}

// userChange is the JSON of a user after a change (docs/json.md): the
// user's fields, flat, with changed and, once, a generated password.
type userChange struct {
	roster.User
	Changed  bool     `json:"changed"`
	Password string   `json:"password,omitempty"`
	Differs  []string `json:"differs,omitempty"`
}

// changeUser makes a call whose result is a user after a change.
func changeUser(ctx context.Context, c *Client, method, path string, body any) (roster.UserResult, error) {
	u, err := do[userChange](ctx, c, method, path, body)
	return roster.UserResult{User: u.User, Changed: u.Changed, Password: u.Password, Differs: u.Differs}, err
}

func (c *Client) CreateUser(ctx context.Context, p roster.CreateUser) (roster.UserResult, error) {
	return changeUser(ctx, c, http.MethodPost, "/users", wire.CreateUser{
		Kind: p.Kind, Email: p.Email, Name: p.Name, Username: p.Username, Roles: p.Roles, Projects: p.Projects,
		Links: p.Links, Password: p.Password, RandomPassword: p.RandomPassword,
		MustChangePassword: p.MustChangePassword, IfNotExists: p.IfNotExists, Expires: p.Expires,
	})
}

func (c *Client) UpdateUser(ctx context.Context, ref string, p roster.UpdateUser) (roster.UserResult, error) {
	return changeUser(ctx, c, http.MethodPatch, segments("users", ref), wire.UpdateUser{
		Name: p.Name, Email: p.Email, Username: p.Username, Links: p.Links, Unlink: p.Unlink,
	})
}

func (c *Client) SetRoles(ctx context.Context, ref string, roles []string) (roster.UserResult, error) {
	if roles == nil {
		roles = []string{} // "no roles", never a missing field
	}
	return changeUser(ctx, c, http.MethodPut, segments("users", ref, "roles"), wire.Roles{Roles: roles})
}

func (c *Client) SetPassword(ctx context.Context, ref string, p roster.SetPassword) (roster.UserResult, error) {
	return changeUser(ctx, c, http.MethodPost, segments("users", ref, "password"), wire.SetPassword{
		Password: p.Password, RandomPassword: p.RandomPassword,
		MustChangePassword: p.MustChangePassword, RevokeSessions: p.RevokeSessions,
	})
}

func (c *Client) DeactivateUser(ctx context.Context, ref, reason string) (roster.UserResult, error) {
	return changeUser(ctx, c, http.MethodPost, segments("users", ref, "deactivate"), wire.Deactivate{Reason: reason})
}

func (c *Client) ReactivateUser(ctx context.Context, ref string) (roster.UserResult, error) {
	return changeUser(ctx, c, http.MethodPost, segments("users", ref, "reactivate"), nil)
}

func (c *Client) SetExpiry(ctx context.Context, ref, expires string) (roster.UserResult, error) {
	return changeUser(ctx, c, http.MethodPost, segments("users", ref, "expiry"), wire.Expiry{Expires: expires})
}

func (c *Client) DeleteUser(ctx context.Context, ref string) (roster.User, error) {
	return do[roster.User](ctx, c, http.MethodDelete, segments("users", ref), nil)
}

func (c *Client) CreateResetLink(ctx context.Context, ref string, ttl time.Duration, send bool) (roster.ResetLink, error) {
	return do[roster.ResetLink](ctx, c, http.MethodPost, segments("users", ref, "reset-link"),
		wire.Link{TTLSeconds: seconds(ttl), Send: send})
}

// Roles and permissions.

func (c *Client) ListRoles(ctx context.Context) ([]roster.Role, error) {
	return do[[]roster.Role](ctx, c, http.MethodGet, "/roles", nil)
}

func (c *Client) GetRole(ctx context.Context, name string) (roster.Role, error) {
	return do[roster.Role](ctx, c, http.MethodGet, segments("roles", name), nil)
}

func (c *Client) CreateRole(ctx context.Context, p roster.CreateRole) (roster.Role, error) {
	perms := p.Permissions
	if perms == nil {
		perms = []string{}
	}
	return do[roster.Role](ctx, c, http.MethodPost, "/roles",
		wire.CreateRole{Name: p.Name, Description: p.Description, Permissions: perms, IfNotExists: p.IfNotExists})
}

func (c *Client) UpdateRole(ctx context.Context, name string, p roster.UpdateRole) (roster.RoleResult, error) {
	return do[roster.RoleResult](ctx, c, http.MethodPatch, segments("roles", name),
		wire.UpdateRole{Description: p.Description, Add: p.Add, Remove: p.Remove})
}

func (c *Client) DeleteRole(ctx context.Context, name, reassign string) (roster.Role, error) {
	return do[roster.Role](ctx, c, http.MethodDelete, query(segments("roles", name), "reassign", reassign), nil)
}

func (c *Client) AssignRole(ctx context.Context, role, ref string) (roster.UserResult, error) {
	return changeUser(ctx, c, http.MethodPut, segments("roles", role, "holders", ref), nil)
}

func (c *Client) UnassignRole(ctx context.Context, role, ref string) (roster.UserResult, error) {
	return changeUser(ctx, c, http.MethodDelete, segments("roles", role, "holders", ref), nil)
}

func (c *Client) ListPermissions(ctx context.Context) ([]roster.Permission, error) {
	return do[[]roster.Permission](ctx, c, http.MethodGet, "/permissions", nil)
}

func (c *Client) CreatePermission(ctx context.Context, p roster.CreatePermission) (roster.Permission, error) {
	return do[roster.Permission](ctx, c, http.MethodPost, "/permissions",
		wire.CreatePermission{Name: p.Name, Description: p.Description, Implies: p.Implies, IfNotExists: p.IfNotExists})
}

func (c *Client) DeletePermission(ctx context.Context, name string) (roster.Permission, error) {
	return do[roster.Permission](ctx, c, http.MethodDelete, segments("permissions", name), nil)
}

func (c *Client) Can(ctx context.Context, ref, permission, project string) (roster.Decision, error) {
	return do[roster.Decision](ctx, c, http.MethodGet,
		query("/can", "user", ref, "permission", permission, "project", project), nil)
}

func (c *Client) ListAudit(ctx context.Context, f roster.AuditFilter) ([]roster.AuditEvent, error) {
	return do[[]roster.AuditEvent](ctx, c, http.MethodGet, query("/audit",
		"since", timeParam(f.Since), "until", timeParam(f.Until), "actor", f.Actor,
		"action", f.Action, "target", f.Target, "limit", itoa(f.Limit)), nil)
}

func (c *Client) GetSettings(ctx context.Context) (roster.Settings, error) {
	return do[roster.Settings](ctx, c, http.MethodGet, "/settings", nil)
}

func (c *Client) SetSetting(ctx context.Context, key, value string) (roster.SettingResult, error) {
	return do[roster.SettingResult](ctx, c, http.MethodPut, segments("settings", key), wire.SetSetting{Value: value})
}

// Organisations: their routes are the API's own, never under an
// organisation's prefix.

func (c *Client) ListOrgs(ctx context.Context) ([]roster.Org, error) {
	return do[[]roster.Org](ctx, c.unscoped(), http.MethodGet, "/orgs", nil)
}

func (c *Client) GetOrg(ctx context.Context, slug string) (roster.Org, error) {
	return do[roster.Org](ctx, c.unscoped(), http.MethodGet, segments("orgs", slug), nil)
}

func (c *Client) CreateOrg(ctx context.Context, p roster.CreateOrg) (roster.OrgResult, error) {
	return do[roster.OrgResult](ctx, c.unscoped(), http.MethodPost, "/orgs", wire.CreateOrg{
		Slug: p.Slug, Name: p.Name, OwnerEmail: p.OwnerEmail, OwnerName: p.OwnerName, Password: p.Password,
		RandomPassword: p.RandomPassword, Invite: p.Invite, Send: p.Send, IfNotExists: p.IfNotExists,
	})
}

func (c *Client) UpdateOrg(ctx context.Context, slug string, p roster.UpdateOrg) (roster.OrgResult, error) {
	return do[roster.OrgResult](ctx, c.unscoped(), http.MethodPatch, segments("orgs", slug),
		wire.UpdateOrg{Name: p.Name, Suspended: p.Suspended})
}

func (c *Client) DeleteOrg(ctx context.Context, slug, confirm string) (roster.OrgResult, error) {
	return do[roster.OrgResult](ctx, c.unscoped(), http.MethodDelete, segments("orgs", slug), wire.DeleteOrg{Confirm: confirm})
}

// Invitations and reset links.

func (c *Client) ListInvitations(ctx context.Context, status roster.InviteStatus) ([]roster.Invitation, error) {
	return do[[]roster.Invitation](ctx, c, http.MethodGet, query("/invitations", "status", string(status)), nil)
}

func (c *Client) CreateInvitation(ctx context.Context, p roster.CreateInvitation) (roster.Invitation, error) {
	return do[roster.Invitation](ctx, c, http.MethodPost, "/invitations", wire.CreateInvitation{
		Email: p.Email, Name: p.Name, Roles: p.Roles, Projects: p.Projects,
		TTLSeconds: seconds(p.TTL), Send: p.Send, IfNotExists: p.IfNotExists,
	})
}

func (c *Client) ResendInvitation(ctx context.Context, email string, ttl time.Duration, send bool) (roster.Invitation, error) {
	return do[roster.Invitation](ctx, c, http.MethodPost, segments("invitations", email, "resend"),
		wire.Link{TTLSeconds: seconds(ttl), Send: send})
}

func (c *Client) RevokeInvitation(ctx context.Context, email string) (roster.InvitationResult, error) {
	return do[roster.InvitationResult](ctx, c, http.MethodPost, segments("invitations", email, "revoke"), nil)
}

// AcceptInvitation sends no API token: the invitation's token is the
// credential.
func (c *Client) AcceptInvitation(ctx context.Context, p roster.AcceptInvitation) (roster.User, error) {
	if err := c.refusePlain("a password"); err != nil {
		return roster.User{}, err
	}
	return do[roster.User](ctx, c.anonymous(), http.MethodPost, "/invitations/accept", wire.AcceptInvitation{
		Token: p.Token, Name: p.Name, Username: p.Username, Password: p.Password,
	})
}

// RedeemResetLink sends no API token: the link's token is the credential.
func (c *Client) RedeemResetLink(ctx context.Context, token, password string) (roster.User, error) {
	if err := c.refusePlain("a password"); err != nil {
		return roster.User{}, err
	}
	return do[roster.User](ctx, c.anonymous(), http.MethodPost, "/reset",
		wire.RedeemReset{Token: token, Password: password})
}

// Projects.

func (c *Client) ListProjects(ctx context.Context) ([]roster.Project, error) {
	return do[[]roster.Project](ctx, c, http.MethodGet, "/projects", nil)
}

func (c *Client) GetProject(ctx context.Context, slug string) (roster.Project, error) {
	return do[roster.Project](ctx, c, http.MethodGet, segments("projects", slug), nil)
}

func (c *Client) CreateProject(ctx context.Context, p roster.CreateProject) (roster.Project, error) {
	return do[roster.Project](ctx, c, http.MethodPost, "/projects", wire.CreateProject{Slug: p.Slug, Name: p.Name,
		IfNotExists: p.IfNotExists})
}

func (c *Client) UpdateProject(ctx context.Context, slug string, p roster.UpdateProject) (roster.ProjectResult, error) {
	return do[roster.ProjectResult](ctx, c, http.MethodPatch, segments("projects", slug),
		wire.UpdateProject{Slug: p.Slug, Name: p.Name})
}

func (c *Client) ArchiveProject(ctx context.Context, slug string, archived bool) (roster.ProjectResult, error) {
	return do[roster.ProjectResult](ctx, c, http.MethodPost, segments("projects", slug, "archive"),
		wire.Archive{Archived: archived})
}

func (c *Client) DeleteProject(ctx context.Context, slug string) (roster.Project, error) {
	return do[roster.Project](ctx, c, http.MethodDelete, segments("projects", slug), nil)
}

func (c *Client) AddMembers(ctx context.Context, slug string, refs []string) ([]roster.MemberOutcome, error) {
	return c.members(ctx, segments("projects", slug, "members"), refs)
}

func (c *Client) RemoveMembers(ctx context.Context, slug string, refs []string) ([]roster.MemberOutcome, error) {
	return c.members(ctx, segments("projects", slug, "members", "remove"), refs)
}

// members changes memberships and turns each user's error body back into
// the domain error, as the local core reports it.
func (c *Client) members(ctx context.Context, path string, refs []string) ([]roster.MemberOutcome, error) {
	outs, err := do[[]wire.MemberOutcome](ctx, c, http.MethodPost, path, wire.Members{Users: refs})
	if err != nil {
		return nil, err
	}
	res := make([]roster.MemberOutcome, len(outs))
	for i, o := range outs {
		res[i] = roster.MemberOutcome{Ref: o.Ref, Result: o.Result}
		if o.Error != nil {
			res[i].Err = wire.Err(*o.Error)
		}
	}
	return res, nil
}

// API tokens.

func (c *Client) CreateToken(ctx context.Context, p roster.CreateToken) (roster.APIToken, error) {
	in := wire.CreateToken{User: p.User, Name: p.Name, TTLSeconds: seconds(p.TTL), ExpiresAt: p.ExpiresAt}
	if p.Scope != nil {
		in.Scope = &p.Scope
	}
	return do[roster.APIToken](ctx, c, http.MethodPost, "/tokens", in)
}

func (c *Client) ListTokens(ctx context.Context, f roster.TokenFilter) ([]roster.APIToken, error) {
	var expiring string
	if f.Expiring != 0 {
		expiring = strconv.FormatInt(seconds(f.Expiring), 10)
	}
	return do[[]roster.APIToken](ctx, c, http.MethodGet, query("/tokens", "user", f.User, "expiring_seconds", expiring), nil)
}

func (c *Client) RevokeToken(ctx context.Context, id int64) (roster.TokenResult, error) {
	return do[roster.TokenResult](ctx, c, http.MethodDelete, segments("tokens", strconv.FormatInt(id, 10)), nil)
}

func (c *Client) RotateToken(ctx context.Context, p roster.RotateToken) (roster.APIToken, error) {
	var body any
	if p.TTL != 0 || p.ExpiresAt != nil {
		body = wire.RotateToken{TTLSeconds: seconds(p.TTL), ExpiresAt: p.ExpiresAt}
	}
	return do[roster.APIToken](ctx, c, http.MethodPost, segments("tokens", strconv.FormatInt(p.ID, 10), "rotate"), body)
}

func (c *Client) SetProjects(ctx context.Context, ref string, slugs []string) (roster.UserResult, error) {
	if slugs == nil {
		slugs = []string{} // "no projects", never a missing field
	}
	return changeUser(ctx, c, http.MethodPut, segments("users", ref, "projects"), wire.SetProjects{Projects: slugs})
}

// Provisioning: the file goes to the server as the body of one request,
// streamed, and the server does it all in one transaction.

func (c *Client) Import(ctx context.Context, r io.Reader, p roster.ImportParams) (roster.Plan, error) {
	contentType := "text/csv"
	if p.Format == "jsonl" {
		contentType = wire.ContentNDJSON
	}
	return c.upload(ctx, query("/import", "format", p.Format, "dry_run", flag(p.DryRun)), contentType, r)
}

func (c *Client) Apply(ctx context.Context, r io.Reader, p roster.ApplyParams) (roster.Plan, error) {
	return c.upload(ctx, query("/apply", "dry_run", flag(p.DryRun), "prune", flag(p.Prune)), "application/yaml", r)
}

// flag is a query value of a boolean; false is the default and left out.
func flag(b bool) string {
	if b {
		return "true"
	}
	return ""
}

// maxUpload is the most an import or apply file may hold: the server's
// cap on their bodies (api's bulkMaxBody).
const maxUpload = 64 << 20

// upload posts r as the body and decodes the plan answered. r is read
// whole first: it is sent again, with the same key, if the connection
// fails before the plan is in.
func (c *Client) upload(ctx context.Context, path, contentType string, r io.Reader) (roster.Plan, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxUpload+1))
	if err != nil {
		return roster.Plan{}, fmt.Errorf("read the file: %w", err)
	}
	if len(body) > maxUpload {
		return roster.Plan{}, roster.Errorf(roster.ErrInvalid, "the file is over %d MiB, the most a server takes in one request", maxUpload>>20).
			WithHint("split it, or run the command on the server's host with --db")
	}
	if body == nil {
		body = []byte{}
	}
	key := newKey()
	for attempt := 1; ; attempt++ {
		plan, err := c.uploadOnce(ctx, path, contentType, body, key)
		var l *lost
		if !errors.As(err, &l) {
			return plan, c.answered(err, attempt)
		}
		if !resend(ctx, key, attempt) {
			if attempt > 1 {
				return plan, c.unknownOutcome(l.err)
			}
			return plan, l.err
		}
	}
}

func (c *Client) uploadOnce(ctx context.Context, path, contentType string, body []byte, key string) (roster.Plan, error) {
	var plan roster.Plan
	resp, err := c.stream(ctx, http.MethodPost, path, contentType, body, key, true)
	if err != nil {
		return plan, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&plan); err != nil {
		if readFailed(err) {
			return plan, c.cutOff(err)
		}
		return plan, c.unexpected(resp, fmt.Sprintf("undecodable result: %v", err))
	}
	return plan, nil
}

func (c *Client) Export(ctx context.Context, fn func(roster.UserRecord) error) error {
	resp, err := c.stream(ctx, http.MethodGet, "/export", "", nil, "", false)
	if l := (*lost)(nil); errors.As(err, &l) {
		return l.err // a read: not sent again
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var line wire.ExportLine
		err := dec.Decode(&line)
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			var ne net.Error
			if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
				return c.unreachable(err) // cut off while reading
			}
			return c.unexpected(resp, fmt.Sprintf("undecodable line: %v", err))
		case line.Error != nil:
			return wire.Err(*line.Error)
		}
		if err := fn(line.UserRecord); err != nil {
			return err
		}
	}
}
