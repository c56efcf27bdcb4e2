package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/roster-dev/roster/docs"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// routes is every endpoint of docs/api.md, in its order. Each maps a
// request onto one Service call; the rules are all the core's.
func (s *server) routes() []route {
	const v1 = wire.Prefix
	scrape := s.metrics.handler()
	rs := []route{
		{"GET /healthz", open, func(w http.ResponseWriter, _ call) error {
			writeText(w, "ok")
			return nil
		}},
		{"GET /readyz", open, func(w http.ResponseWriter, c call) error {
			// A store that does not answer is not ready: a load balancer
			// must hear so at once, not when its own check times out.
			ctx, cancel := context.WithTimeout(c.ctx(), readyTimeout)
			defer cancel()
			if err := s.b.Ready(ctx); err != nil {
				// The cause may name files or SQL; the log gets it.
				s.log.Error("not ready", "err", err)
				return roster.Errorf(roster.ErrUnavailable, "the store is not ready")
			}
			writeText(w, "ok")
			return nil
		}},
		// Route patterns, status codes and the runtime's figures: nothing a
		// client sent (see Metrics), so no token is asked for.
		{"GET /metrics", open, func(w http.ResponseWriter, c call) error {
			scrape.ServeHTTP(w, c.r)
			return nil
		}},
		{"GET " + v1 + "/openapi.yaml", open, func(w http.ResponseWriter, _ call) error {
			h := w.Header()
			h.Set("Content-Type", "application/yaml")
			h.Set("X-Content-Type-Options", "nosniff")
			_, _ = w.Write(docs.OpenAPI) // a failed write means the client left
			return nil
		}},
		{"POST " + v1 + "/login", open, withBody(func(c call, in wire.SignIn) (tok roster.APIToken, err error) {
			// The same email may hold an account in several organisations:
			// each is its own account to the limiter too.
			account := in.Email
			if in.Org != "" {
				account += " in " + in.Org
			}
			err = s.guess(c.r, account, func() error {
				ctx, err := s.b.OrgContext(c.ctx(), in.Org)
				if err != nil {
					return err
				}
				tok, err = s.b.SignIn(ctx, in.Email, in.Password, in.Name)
				return err
			})
			return tok, err
		}, "email", "password")},
		{"GET " + v1 + "/whoami", bearer, noBody(func(c call) (roster.Principal, error) {
			return c.svc.Whoami(c.ctx())
		})},
		{"POST " + v1 + "/account/password", bearer, withBody(func(c call, in wire.ChangePassword) (u roster.User, err error) {
			// A wrong current password is a failed sign-in: someone holding
			// the token may be guessing it.
			me, err := c.svc.Whoami(c.ctx())
			if err != nil {
				return u, err
			}
			err = s.guess(c.r, me.Name, func() error {
				u, err = c.svc.ChangePassword(c.ctx(), roster.ChangePassword{Current: in.Current, New: in.New, RevokeTokens: in.RevokeTokens})
				return err
			})
			return u, err
		}, "current", "new")},
		{"GET " + v1 + "/account/notices", bearer, noBody(func(c call) ([]roster.Notice, error) {
			return c.svc.Notices(c.ctx(), false)
		})},
		{"POST " + v1 + "/account/notices/seen", bearer, noBody(func(c call) ([]roster.Notice, error) {
			return c.svc.Notices(c.ctx(), true)
		})},

		// Users.
		{"GET " + v1 + "/users", bearer, noBody(func(c call) (wire.Page[roster.User], error) {
			p := c.queryParser()
			f := roster.UserFilter{Kind: roster.Kind(p.str("kind")), Status: roster.Status(p.str("status")), Role: p.str("role"),
				Project: p.str("project"), Search: p.str("search"), Limit: p.int("limit"), After: p.str("after"),
				Expiring: time.Duration(p.int("expiring_seconds")) * time.Second}
			if p.err != nil {
				return wire.Page[roster.User]{}, p.err
			}
			page, err := c.svc.ListUsers(c.ctx(), f)
			if page.Items == nil {
				page.Items = []roster.User{} // "items": [], as -o json prints an empty list
			}
			return wire.Page[roster.User]{Items: page.Items, Next: page.Next}, err
		})},
		{"GET " + v1 + "/users/{user}", bearer, noBody(func(c call) (roster.User, error) {
			return c.svc.GetUser(c.ctx(), c.path("user"))
		})},
		{"POST " + v1 + "/users", bearer, withBody(func(c call, in wire.CreateUser) (userChange, error) {
			if err := onePassword(in.Password, in.RandomPassword); err != nil {
				return userChange{}, err
			}
			// A person needs an email; a service account has a name.
			if in.Email == "" && in.Kind != roster.KindService {
				return userChange{}, roster.Errorf(roster.ErrInvalid, "the body needs the field %q", "email").
					WithHint(`see docs/api.md; a service account is made with "kind": "service" and a "username"`)
			}
			return changed(c.svc.CreateUser(c.ctx(), roster.CreateUser{Kind: in.Kind, Email: in.Email, Name: in.Name, Username: in.Username,
				Roles: in.Roles, Links: in.Links, Projects: in.Projects, Password: in.Password,
				RandomPassword: in.RandomPassword, MustChangePassword: in.MustChangePassword, IfNotExists: in.IfNotExists,
				Expires: in.Expires}))
		})},
		{"PATCH " + v1 + "/users/{user}", bearer, withBody(func(c call, in wire.UpdateUser) (userChange, error) {
			return changed(c.svc.UpdateUser(c.ctx(), c.path("user"), roster.UpdateUser{Name: in.Name, Email: in.Email,
				Username: in.Username, Links: in.Links, Unlink: in.Unlink}))
		})},
		{"PUT " + v1 + "/users/{user}/roles", bearer, withBody(func(c call, in wire.Roles) (userChange, error) {
			if len(in.Roles) == 0 { // [] would take every role away, as {} did
				return userChange{}, roster.Errorf(roster.ErrInvalid, "roles must name at least one role").
					WithHint("to take one role away, DELETE /api/v1/roles/{role}/holders/{user}")
			}
			return changed(c.svc.SetRoles(c.ctx(), c.path("user"), in.Roles))
		}, "roles")},
		{"POST " + v1 + "/users/{user}/password", bearer, withBody(func(c call, in wire.SetPassword) (userChange, error) {
			// Neither is refused by the core: "no password given".
			if err := onePassword(in.Password, in.RandomPassword); err != nil {
				return userChange{}, err
			}
			return changed(c.svc.SetPassword(c.ctx(), c.path("user"), roster.SetPassword{Password: in.Password,
				RandomPassword: in.RandomPassword, MustChangePassword: in.MustChangePassword, RevokeSessions: in.RevokeSessions}))
		})},
		{"POST " + v1 + "/users/{user}/deactivate", bearer, withBody(func(c call, in wire.Deactivate) (userChange, error) {
			return changed(c.svc.DeactivateUser(c.ctx(), c.path("user"), in.Reason))
		})},
		{"POST " + v1 + "/users/{user}/reactivate", bearer, noBody(func(c call) (userChange, error) {
			return changed(c.svc.ReactivateUser(c.ctx(), c.path("user")))
		})},
		{"POST " + v1 + "/users/{user}/expiry", bearer, withBody(func(c call, in wire.Expiry) (userChange, error) {
			return changed(c.svc.SetExpiry(c.ctx(), c.path("user"), in.Expires))
		}, "expires")},
		{"DELETE " + v1 + "/users/{user}", bearer, noBody(func(c call) (roster.User, error) {
			return c.svc.DeleteUser(c.ctx(), c.path("user"))
		})},
		{"PUT " + v1 + "/users/{user}/projects", bearer, withBody(func(c call, in wire.SetProjects) (userChange, error) {
			return changed(c.svc.SetProjects(c.ctx(), c.path("user"), in.Projects))
		}, "projects")},
		{"POST " + v1 + "/users/{user}/reset-link", bearer, withBody(func(c call, in wire.Link) (roster.ResetLink, error) {
			ttl, err := seconds(in.TTLSeconds)
			if err != nil {
				return roster.ResetLink{}, err
			}
			return c.svc.CreateResetLink(c.ctx(), c.path("user"), ttl, in.Send)
		})},

		// Roles and permissions.
		{"GET " + v1 + "/roles", bearer, noBody(func(c call) ([]roster.Role, error) {
			return c.svc.ListRoles(c.ctx())
		})},
		{"GET " + v1 + "/roles/{role}", bearer, noBody(func(c call) (roster.Role, error) {
			return c.svc.GetRole(c.ctx(), c.path("role"))
		})},
		{"POST " + v1 + "/roles", bearer, withBody(func(c call, in wire.CreateRole) (roster.Role, error) {
			return c.svc.CreateRole(c.ctx(), roster.CreateRole{Name: in.Name, Description: in.Description, Permissions: in.Permissions,
				IfNotExists: in.IfNotExists})
		}, "name", "permissions")},
		{"PATCH " + v1 + "/roles/{role}", bearer, withBody(func(c call, in wire.UpdateRole) (roster.RoleResult, error) {
			return c.svc.UpdateRole(c.ctx(), c.path("role"), roster.UpdateRole{Description: in.Description, Add: in.Add, Remove: in.Remove})
		})},
		{"DELETE " + v1 + "/roles/{role}", bearer, noBody(func(c call) (roster.Role, error) {
			return c.svc.DeleteRole(c.ctx(), c.path("role"), c.query("reassign"))
		})},
		{"PUT " + v1 + "/roles/{role}/holders/{user}", bearer, noBody(func(c call) (userChange, error) {
			return changed(c.svc.AssignRole(c.ctx(), c.path("role"), c.path("user")))
		})},
		{"DELETE " + v1 + "/roles/{role}/holders/{user}", bearer, noBody(func(c call) (userChange, error) {
			return changed(c.svc.UnassignRole(c.ctx(), c.path("role"), c.path("user")))
		})},
		{"GET " + v1 + "/permissions", bearer, noBody(func(c call) ([]roster.Permission, error) {
			return c.svc.ListPermissions(c.ctx())
		})},
		{"POST " + v1 + "/permissions", bearer, withBody(func(c call, in wire.CreatePermission) (roster.Permission, error) {
			return c.svc.CreatePermission(c.ctx(), roster.CreatePermission{Name: in.Name, Description: in.Description, Implies: in.Implies,
				IfNotExists: in.IfNotExists})
		}, "name")},
		{"DELETE " + v1 + "/permissions/{permission}", bearer, noBody(func(c call) (roster.Permission, error) {
			return c.svc.DeletePermission(c.ctx(), c.path("permission"))
		})},
		{"GET " + v1 + "/can", bearer, noBody(func(c call) (roster.Decision, error) {
			return c.svc.Can(c.ctx(), c.query("user"), c.query("permission"), c.query("project"))
		})},

		// Audit and settings.
		{"GET " + v1 + "/audit", bearer, noBody(func(c call) ([]roster.AuditEvent, error) {
			p := c.queryParser()
			f := roster.AuditFilter{Since: p.time("since"), Until: p.time("until"), Actor: p.str("actor"),
				Action: p.str("action"), Target: p.str("target"), Limit: p.int("limit")}
			if p.err != nil {
				return nil, p.err
			}
			return c.svc.ListAudit(c.ctx(), f)
		})},
		{"GET " + v1 + "/audit/stream", bearer, s.auditStream},
		{"GET " + v1 + "/audit/verify", bearer, noBody(func(c call) (roster.AuditVerification, error) {
			return c.svc.VerifyAudit(c.ctx())
		})},
		{"POST " + v1 + "/audit/prune", bearer, withBody(func(c call, in wire.PruneAudit) (roster.AuditPruneResult, error) {
			return c.svc.PruneAudit(c.ctx(), in.Before)
		})},
		{"GET " + v1 + "/settings", bearer, noBody(func(c call) (roster.Settings, error) {
			return c.svc.GetSettings(c.ctx())
		})},
		{"PUT " + v1 + "/settings/{key}", bearer, withBody(func(c call, in wire.SetSetting) (roster.SettingResult, error) {
			return c.svc.SetSetting(c.ctx(), c.path("key"), in.Value)
		}, "value")},

		// Invitations and reset links.
		{"GET " + v1 + "/invitations", bearer, noBody(func(c call) ([]roster.Invitation, error) {
			return c.svc.ListInvitations(c.ctx(), roster.InviteStatus(c.query("status")))
		})},
		{"POST " + v1 + "/invitations", bearer, withBody(func(c call, in wire.CreateInvitation) (roster.Invitation, error) {
			ttl, err := seconds(in.TTLSeconds)
			if err != nil {
				return roster.Invitation{}, err
			}
			return c.svc.CreateInvitation(c.ctx(), roster.CreateInvitation{Email: in.Email, Name: in.Name,
				Roles: in.Roles, Projects: in.Projects, TTL: ttl, Send: in.Send, IfNotExists: in.IfNotExists})
		}, "email")},
		{"POST " + v1 + "/invitations/{email}/resend", bearer, withBody(func(c call, in wire.Link) (roster.Invitation, error) {
			ttl, err := seconds(in.TTLSeconds)
			if err != nil {
				return roster.Invitation{}, err
			}
			return c.svc.ResendInvitation(c.ctx(), c.path("email"), ttl, in.Send)
		})},
		{"POST " + v1 + "/invitations/{email}/revoke", bearer, noBody(func(c call) (roster.InvitationResult, error) {
			return c.svc.RevokeInvitation(c.ctx(), c.path("email"))
		})},
		{"POST " + v1 + "/invitations/accept", link, withBody(func(c call, in wire.AcceptInvitation) (roster.User, error) {
			return s.b.Public().AcceptInvitation(c.ctx(), roster.AcceptInvitation{Token: in.Token, Name: in.Name,
				Username: in.Username, Password: in.Password})
		}, "token", "password")},
		{"POST " + v1 + "/reset", link, withBody(func(c call, in wire.RedeemReset) (roster.User, error) {
			return s.b.Public().RedeemResetLink(c.ctx(), in.Token, in.Password)
		}, "token", "password")},

		// Projects.
		{"GET " + v1 + "/projects", bearer, noBody(func(c call) ([]roster.Project, error) {
			return c.svc.ListProjects(c.ctx())
		})},
		{"GET " + v1 + "/projects/{project}", bearer, noBody(func(c call) (roster.Project, error) {
			return c.svc.GetProject(c.ctx(), c.path("project"))
		})},
		{"POST " + v1 + "/projects", bearer, withBody(func(c call, in wire.CreateProject) (roster.Project, error) {
			return c.svc.CreateProject(c.ctx(), roster.CreateProject{Slug: in.Slug, Name: in.Name, IfNotExists: in.IfNotExists})
		}, "slug")},
		{"PATCH " + v1 + "/projects/{project}", bearer, withBody(func(c call, in wire.UpdateProject) (roster.ProjectResult, error) {
			return c.svc.UpdateProject(c.ctx(), c.path("project"), roster.UpdateProject{Slug: in.Slug, Name: in.Name})
		})},
		{"POST " + v1 + "/projects/{project}/archive", bearer, withBody(func(c call, in wire.Archive) (roster.ProjectResult, error) {
			return c.svc.ArchiveProject(c.ctx(), c.path("project"), in.Archived)
		}, "archived")},
		{"DELETE " + v1 + "/projects/{project}", bearer, noBody(func(c call) (roster.Project, error) {
			return c.svc.DeleteProject(c.ctx(), c.path("project"))
		})},
		{"POST " + v1 + "/projects/{project}/members", bearer, withBody(func(c call, in wire.Members) ([]memberOutcome, error) {
			out, err := c.svc.AddMembers(c.ctx(), c.path("project"), in.Users)
			return s.outcomes(c, out), err
		}, "users")},
		{"POST " + v1 + "/projects/{project}/members/remove", bearer, withBody(func(c call, in wire.Members) ([]memberOutcome, error) {
			out, err := c.svc.RemoveMembers(c.ctx(), c.path("project"), in.Users)
			return s.outcomes(c, out), err
		}, "users")},

		// Provisioning: one request each, the body streamed in (import)
		// or out (export).
		{"POST " + v1 + "/import", bearer, func(w http.ResponseWriter, c call) error {
			p := c.queryParser()
			in := roster.ImportParams{Format: p.str("format"), DryRun: p.bool("dry_run")}
			if p.err != nil {
				return p.err
			}
			plan, err := c.svc.Import(c.ctx(), importBody(c.r), in)
			if err != nil {
				return bodyError(err)
			}
			return writeJSON(w, http.StatusOK, plan)
		}},
		{"POST " + v1 + "/apply", bearer, func(w http.ResponseWriter, c call) error {
			p := c.queryParser()
			in := roster.ApplyParams{DryRun: p.bool("dry_run"), Prune: p.bool("prune")}
			if p.err != nil {
				return p.err
			}
			plan, err := c.svc.Apply(c.ctx(), clientBody{c.r.Body}, in)
			if err != nil {
				return bodyError(err)
			}
			return writeJSON(w, http.StatusOK, plan)
		}},
		{"GET " + v1 + "/export", bearer, s.export},

		// API tokens.
		{"GET " + v1 + "/tokens", bearer, noBody(func(c call) ([]roster.APIToken, error) {
			p := c.queryParser()
			f := roster.TokenFilter{User: p.str("user"), Expiring: time.Duration(p.int("expiring_seconds")) * time.Second}
			if p.err != nil {
				return nil, p.err
			}
			return c.svc.ListTokens(c.ctx(), f)
		})},
		{"POST " + v1 + "/tokens", bearer, withBody(func(c call, in wire.CreateToken) (roster.APIToken, error) {
			ttl, err := seconds(in.TTLSeconds)
			if err != nil {
				return roster.APIToken{}, err
			}
			p := roster.CreateToken{User: in.User, Name: in.Name, TTL: ttl, ExpiresAt: in.ExpiresAt}
			if in.Scope != nil {
				p.Scope = *in.Scope
				if p.Scope == nil {
					p.Scope = []string{} // [] is a scope of nothing, refused; never none
				}
			}
			return c.svc.CreateToken(c.ctx(), p)
		})},
		{"DELETE " + v1 + "/tokens/{id}", bearer, noBody(func(c call) (roster.TokenResult, error) {
			id, err := c.pathID("id")
			if err != nil {
				return roster.TokenResult{}, err
			}
			return c.svc.RevokeToken(c.ctx(), id)
		})},
		{"POST " + v1 + "/tokens/{id}/rotate", bearer, optionalBody(func(c call, in wire.RotateToken) (roster.APIToken, error) {
			id, err := c.pathID("id")
			if err != nil {
				return roster.APIToken{}, err
			}
			ttl, err := seconds(in.TTLSeconds)
			if err != nil {
				return roster.APIToken{}, err
			}
			return c.svc.RotateToken(c.ctx(), roster.RotateToken{ID: id, TTL: ttl, ExpiresAt: in.ExpiresAt})
		})},

		// Organisations: system administrators manage them all, an
		// organisation's owner sees and deletes their own (the core decides).
		{"GET " + v1 + "/orgs", bearer, noBody(func(c call) ([]roster.Org, error) {
			return c.svc.ListOrgs(c.ctx())
		})},
		{"POST " + v1 + "/orgs", bearer, withBody(func(c call, in wire.CreateOrg) (roster.OrgResult, error) {
			if err := oneOwnerSecret(in); err != nil {
				return roster.OrgResult{}, err
			}
			return c.svc.CreateOrg(c.ctx(), roster.CreateOrg{Slug: in.Slug, Name: in.Name, OwnerEmail: in.OwnerEmail,
				OwnerName: in.OwnerName, Password: in.Password, RandomPassword: in.RandomPassword, Invite: in.Invite,
				Send: in.Send, IfNotExists: in.IfNotExists})
		}, "slug", "owner_email")},
		{"GET " + v1 + "/orgs/{org}", bearer, noBody(func(c call) (roster.Org, error) {
			return c.svc.GetOrg(c.ctx(), c.path("org"))
		})},
		{"PATCH " + v1 + "/orgs/{org}", bearer, withBody(func(c call, in wire.UpdateOrg) (roster.OrgResult, error) {
			return c.svc.UpdateOrg(c.ctx(), c.path("org"), roster.UpdateOrg{Name: in.Name, Suspended: in.Suspended})
		})},
		{"DELETE " + v1 + "/orgs/{org}", bearer, func(w http.ResponseWriter, c call) error {
			confirm, err := deleteConfirmation(c)
			if err != nil {
				return err
			}
			res, err := c.svc.DeleteOrg(c.ctx(), c.path("org"), confirm)
			if err != nil {
				return err
			}
			return writeJSON(w, http.StatusOK, res)
		}},
	}
	rs = append(rs, s.deviceRoutes()...)
	return append(rs, inOrgs(rs)...)
}

// inOrgs are the organisation-scoped routes of rs (those acting as a
// bearer token's user, but for the organisations' own) served again
// under /api/v1/orgs/{org}/…: the same work, by the same principal,
// acting in the organisation {org} names. The core answers "not found"
// for an organisation the caller may not act in (R21).
func inOrgs(rs []route) []route {
	var out []route
	for _, rt := range rs {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if rt.access != bearer || strings.HasPrefix(path, wire.Prefix+"/orgs") {
			continue
		}
		serve := rt.serve
		out = append(out, route{method + " " + wire.OrgsPrefix + strings.TrimPrefix(path, wire.Prefix), bearer,
			func(w http.ResponseWriter, c call) error {
				c.svc = core.InOrg(c.svc, c.path("org"))
				return serve(w, c)
			}})
	}
	return out
}

// unscoped is an API path without its /orgs/{org} prefix, if it has one:
// the path of the route an organisation-scoped request is served by.
func unscoped(path string) string {
	rest, ok := strings.CutPrefix(path, wire.Prefix+"/orgs/")
	if !ok {
		return path
	}
	if _, sub, ok := strings.Cut(rest, "/"); ok {
		return wire.Prefix + "/" + sub
	}
	return path
}

// oneOwnerSecret refuses a new organisation's owner given more than one
// way in: a password, a random one, or an invitation.
func oneOwnerSecret(in wire.CreateOrg) error {
	n := 0
	for _, given := range []bool{in.Password != "", in.RandomPassword, in.Invite} {
		if given {
			n++
		}
	}
	if n > 1 {
		return roster.Errorf(roster.ErrInvalid, "give one of password, random_password and invite, not several")
	}
	if in.Send && !in.Invite {
		return roster.Errorf(roster.ErrInvalid, "send mails the owner's invitation: it needs invite")
	}
	return nil
}

// deleteConfirmation is the slug a DELETE of an organisation repeats to
// confirm it: the query's confirm, or the body's, not both unless equal.
func deleteConfirmation(c call) (string, error) {
	confirm := c.query("confirm")
	body, err := io.ReadAll(clientBody{c.r.Body})
	if err != nil {
		return "", bodyError(err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return confirm, nil
	}
	in, err := decode[wire.DeleteOrg](bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	if confirm != "" && in.Confirm != confirm {
		return "", roster.Errorf(roster.ErrInvalid, "the query and the body confirm different organisations")
	}
	return in.Confirm, nil
}

// onePassword refuses a body with both a password and random_password:
// which of the two the user was meant to get is not clear, and the
// command line's flags for them exclude each other.
func onePassword(password string, random bool) error {
	if password != "" && random {
		return roster.Errorf(roster.ErrInvalid, "give password or random_password, not both")
	}
	return nil
}

// userChange is the JSON of a user after a change, as docs/json.md has
// it and -o json prints it: the user's fields, flat, with changed and,
// once, a generated password. (roster.UserResult nests the user.)
type userChange struct {
	roster.User
	Changed  bool     `json:"changed"`
	Password string   `json:"password,omitempty"`
	Differs  []string `json:"differs,omitempty"`
}

// MarshalJSON writes the user, flat, with changed. A user with no id is
// one the caller may not see (POST /users with if_not_exists, without
// users.view, of an existing user): the core tells no more than the
// email the caller gave, so the answer holds only that, rather than a
// status of "" and times in the year 1 that a client would take for the
// user's.
func (u userChange) MarshalJSON() ([]byte, error) {
	if u.ID == 0 { // nor differs, which the core leaves out for such a caller
		return json.Marshal(struct {
			Email   string `json:"email"`
			Changed bool   `json:"changed"`
		}{u.Email, u.Changed})
	}
	type plain userChange // without this method
	return json.Marshal(plain(u))
}

// changed flattens a user after a change for the wire.
func changed(r roster.UserResult, err error) (userChange, error) {
	return userChange{User: r.User, Changed: r.Changed, Password: r.Password, Differs: r.Differs}, err
}

// memberOutcome is a wire.MemberOutcome as the server writes it: a
// failed one has no result (not a zero one, which reads as a user with
// no status made in the year 1), and a user the caller may not see is
// shown as no more than an email.
type memberOutcome struct {
	Ref    string            `json:"ref"`
	Result *memberResult     `json:"result,omitempty"`
	Error  *wire.ErrorDetail `json:"error,omitempty"`
}

// memberResult is a roster.MemberResult as the server writes it.
type memberResult struct {
	Project string    `json:"project"`
	User    shownUser `json:"user"`
	Changed bool      `json:"changed"`
}

// shownUser is a user in a result. One with no id is one the caller may
// not see (a membership change by a holder of projects.manage without
// users.view): the core tells no more than the email the caller gave,
// and so does the answer, rather than a status of "" and times in the
// year 1 that a client would take for the user's.
type shownUser roster.User

func (u shownUser) MarshalJSON() ([]byte, error) {
	if u.ID == 0 {
		return json.Marshal(struct {
			Email string `json:"email"`
		}{u.Email})
	}
	return appendUser(nil, roster.User(u))
}

// outcomes puts membership outcomes on the wire: each failure becomes an
// error body, as a whole request's would, and an internal one is logged.
func (s *server) outcomes(c call, in []roster.MemberOutcome) []memberOutcome {
	out := make([]memberOutcome, len(in))
	for i, o := range in {
		out[i] = memberOutcome{Ref: o.Ref}
		if o.Err != nil {
			s.logInternal(c.r, o.Err, "ref", o.Ref)
			d := wire.Detail(o.Err)
			out[i].Error = &d
			continue
		}
		out[i].Result = &memberResult{Project: o.Result.Project, User: shownUser(o.Result.User), Changed: o.Result.Changed}
	}
	return out
}

// writeText answers the health checks, which are for load balancers and
// people, in plain text.
func writeText(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = fmt.Fprintln(w, text) // a failed write means the client left
}

// export streams every user as JSON lines, flushed as it goes, so that
// neither side holds the store. Once the first line is out the status is
// sent: a later failure is reported as a last line holding the error.
func (s *server) export(w http.ResponseWriter, c call) error {
	enc := json.NewEncoder(w)
	rc := http.NewResponseController(w)
	started, n := false, 0
	err := c.svc.Export(c.ctx(), func(u roster.UserRecord) error {
		if !started {
			h := w.Header()
			h.Set("Content-Type", wire.ContentNDJSON)
			h.Set("Cache-Control", "no-store")
			h.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		if err := enc.Encode(wire.ExportLine{UserRecord: u}); err != nil {
			return err
		}
		if n++; n%exportFlushEvery == 0 {
			return rc.Flush()
		}
		return nil
	})
	switch {
	case err != nil && started:
		s.logInternal(c.r, err)
		d := wire.Detail(err)
		_ = enc.Encode(wire.ExportLine{Error: &d}) // the client may be gone
		return nil
	case err != nil:
		return err
	case !started:
		w.Header().Set("Content-Type", wire.ContentNDJSON)
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

// readyTimeout bounds /readyz's question to the store: 503 comes within
// 2 s of a store that does not answer.
const readyTimeout = 1500 * time.Millisecond

// exportFlushEvery is how many lines go out between flushes.
const exportFlushEvery = 1000
