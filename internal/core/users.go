package core

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/password"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

func (s *service) Whoami(ctx context.Context) (roster.Principal, error) {
	var p roster.Principal
	err := s.account().read(ctx, func(o *op) error {
		set, err := o.settings()
		if err != nil {
			return err
		}
		org, err := o.orgRow()
		if err != nil {
			return err
		}
		p = roster.Principal{Name: o.act.name, Via: o.act.via, Org: org.Slug,
			PasswordPolicy: roster.PasswordPolicy{MinLength: set.Int("password.min_length"), MaxLength: password.MaxLength}}
		if o.act.user == nil {
			p.Permissions = o.cat.PermissionNames()
			return nil
		}
		u := o.act.user.User
		p.User = &u
		p.Permissions = o.effective(u.Roles)
		if o.act.scoped {
			p.Permissions = slices.DeleteFunc(p.Permissions, func(x string) bool { return slices.Contains(o.act.removed, x) })
			p.Scope, p.ScopeRemoved = s.scope, o.act.removed
		}
		return nil
	})
	return p, err
}

func (s *service) ListUsers(ctx context.Context, f roster.UserFilter) (roster.Page[roster.User], error) {
	var page roster.Page[roster.User]
	if f.Status != "" && !f.Status.Valid() && f.Status != roster.StatusExpired {
		return page, roster.Errorf(roster.ErrInvalid, "invalid status %q", f.Status).WithHint("use invited, active, expired or deactivated")
	}
	if f.Expiring < 0 {
		return page, roster.Errorf(roster.ErrInvalid, "invalid --expiring %s", f.Expiring).WithHint("give a duration such as 30d")
	}
	if f.Kind != "" && !f.Kind.Valid() {
		return page, roster.Errorf(roster.ErrInvalid, "invalid kind %q", f.Kind).WithHint("use person or service")
	}
	switch {
	case f.Limit == 0:
		f.Limit = roster.DefaultPageSize
	case f.Limit < 0 || f.Limit > roster.MaxPageSize:
		return page, roster.Errorf(roster.ErrInvalid, "invalid limit %d", f.Limit).WithHint("use 1 to %d, or --all", roster.MaxPageSize)
	}
	err := s.read(ctx, func(o *op) error {
		if err := o.require(roster.PermUsersView); err != nil {
			return err
		}
		if f.Role != "" {
			if _, err := o.role(f.Role); err != nil {
				return err
			}
		}
		if f.Project != "" {
			if _, err := o.project(f.Project); err != nil {
				return err
			}
		}
		var err error
		f.Now = o.now
		if page, err = o.tx.ListUsers(ctx, f); err != nil {
			return err
		}
		for i := range page.Items {
			if page.Items[i], err = o.view(page.Items[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return page, err
}

func (s *service) GetUser(ctx context.Context, ref string) (roster.User, error) {
	var u roster.User
	err := s.read(ctx, func(o *op) error {
		row, err := o.visibleUser(ref)
		if err != nil {
			return err
		}
		u, err = o.view(row.User)
		return err
	})
	return u, err
}

// visibleUser loads a user the actor may see: themselves, or anyone with
// users.view. Without it, a user who exists and one who does not get the
// same refusal, so nobody learns which emails have accounts.
func (o *op) visibleUser(ref string) (store.UserRow, error) {
	row, err := o.tx.UserByRef(o.ctx, ref)
	if err == nil && o.act.is(row) {
		return row, nil
	}
	if perr := o.require(roster.PermUsersView); perr != nil {
		return store.UserRow{}, perr
	}
	return row, err
}

// secret turns a password source into a hash, checking R10 first. It runs
// before the write transaction: hashing takes tens of milliseconds and must
// not hold the store's write lock.
func (s *service) secret(ctx context.Context, pw string, random bool, email string) (hash, generated string, err error) {
	if random {
		pw = password.Generate()
		generated = pw
	}
	if pw == "" {
		return "", "", nil
	}
	minLen, err := s.minLength(ctx)
	if err != nil {
		return "", "", err
	}
	if err := password.Check(pw, email, minLen); err != nil {
		return "", "", err
	}
	hash, err = password.Hash(pw)
	return hash, generated, err
}

func (s *service) CreateUser(ctx context.Context, p roster.CreateUser) (roster.UserResult, error) {
	var res roster.UserResult
	kind, email, handle, err := accountOf(p)
	if err != nil {
		return res, err
	}
	if err := checkProfile(p.Name, p.Username, p.Links); err != nil {
		return res, err
	}
	roles := dedupe(p.Roles)
	if len(roles) == 0 {
		roles = []string{roster.RoleMember}
	}
	// found is what --if-not-exists answers for a user who exists.
	found := func(o *op, row store.UserRow) roster.UserResult {
		u, _ := o.existingView(row)
		return roster.UserResult{User: u, Differs: o.userDiffers(u, p.Roles, p.Name, p.Username, p.Links, p.Projects)}
	}
	if p.IfNotExists {
		// Idempotent provisioning re-runs should not pay for a hash.
		existing, ok, err := s.existing(ctx, kind, handle, found)
		if err != nil || ok {
			return existing, err
		}
	}
	hash, generated, err := s.secret(ctx, p.Password, p.RandomPassword, email)
	if err != nil {
		return res, err
	}
	err = s.writeAs(ctx, roster.PermUsersCreate, func(o *op) error {
		var expires *time.Time
		if p.Expires != "" {
			if expires, err = roster.ParseExpiry(p.Expires, o.now); err != nil {
				return err
			}
		}
		if row, ok, err := o.taken(kind, handle); err != nil {
			return err
		} else if ok {
			if p.IfNotExists {
				res, generated = found(o, row), ""
				return nil
			}
			return exists(kind, handle)
		}
		if err := o.rolesExist(roles); err != nil {
			return err
		}
		if err := o.checkGrant(roles); err != nil {
			return err
		}
		if err := o.checkUnique(0, p.Username, p.Links); err != nil {
			return err
		}
		if kind == roster.KindPerson {
			if err := o.checkSeat(); err != nil {
				return err
			}
		}
		row := store.UserRow{User: roster.User{
			Kind: kind, Email: email, Name: p.Name, Username: p.Username, Roles: roles, Links: p.Links,
			Status: roster.StatusActive, MustChangePassword: p.MustChangePassword,
			CreatedAt: o.now, UpdatedAt: o.now, ExpiresAt: expires,
		}, PasswordHash: hash}
		row.ID, err = o.tx.InsertUser(ctx, row)
		if err != nil {
			return err
		}
		details := map[string]any{"roles": roles, "has_password": hash != ""}
		if kind == roster.KindService {
			details["kind"] = kind
		}
		if len(p.Links) > 0 {
			details["links"] = p.Links
		}
		if expires != nil {
			details["expires_at"] = expires
		}
		if err := o.audit("user.create", handle, row.ID, details); err != nil {
			return err
		}
		if err := o.join(row, p.Projects); err != nil {
			return err
		}
		res, err = o.reload(row.ID, true)
		return err
	})
	if err != nil {
		return roster.UserResult{}, fmt.Errorf("create %s %s: %w", kind.Noun(), roster.Quote(handle), err)
	}
	if res.Changed {
		res.Password = generated
	}
	return res, nil
}

// existing looks an account up by its handle for --if-not-exists, as the actor,
// and answers with found when there is one.
func (s *service) existing(ctx context.Context, kind roster.Kind, handle string, found func(*op, store.UserRow) roster.UserResult) (roster.UserResult, bool, error) {
	var res roster.UserResult
	var ok bool
	err := s.read(ctx, func(o *op) error {
		if err := o.require(roster.PermUsersCreate); err != nil {
			return err
		}
		row, taken, err := o.taken(kind, handle)
		if err != nil || !taken {
			return err
		}
		res, ok = found(o, row), true
		return nil
	})
	return res, ok, err
}

// existingView is what --if-not-exists shows of a user who exists: the
// user as the actor may see them, or, without users.view, no more than
// the email the actor already gave.
func (o *op) existingView(row store.UserRow) (roster.User, bool) {
	if !o.act.has(roster.PermUsersView) {
		return roster.User{Email: row.Email, Roles: []string{}, Links: map[string]string{}, Projects: []string{}}, true
	}
	u, err := o.view(row.User)
	return u, err == nil
}

// differs collects, for --if-not-exists, where a thing that exists is
// not what the create asked for. A field the create did not give (an
// empty value or list) was not asked for and is not compared.
type differs []string

// text compares one text field.
func (d *differs) text(field, have, asked string) {
	if asked != "" && have != asked {
		*d = append(*d, fmt.Sprintf("%s %q, not %q", field, have, asked))
	}
}

// set compares a list whose order does not matter: roles, permissions.
func (d *differs) set(field string, have, asked []string) {
	if len(asked) > 0 && !slices.Equal(dedupe(have), dedupe(asked)) {
		*d = append(*d, fmt.Sprintf("%s %s, not %s", field, listText(dedupe(have)), listText(dedupe(asked))))
	}
}

// links compares the links asked for; others the user has are no matter.
func (d *differs) links(have, asked map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(asked)) {
		d.text("link "+k, have[k], asked[k])
	}
}

// existing marks a thing found by a create with IfNotExists.
func (d differs) existing() *roster.Existing {
	return &roster.Existing{Differs: append([]string{}, d...)}
}

// userDiffers compares an existing user, as the actor sees them, with a
// create. Without users.view the actor sees no more than the email, and
// learns nothing more from a difference.
func (o *op) userDiffers(u roster.User, roles []string, name, username string, links map[string]string, projects []string) []string {
	if !o.act.has(roster.PermUsersView) {
		return nil
	}
	var d differs
	d.set("roles", u.Roles, roles)
	d.text("name", u.Name, name)
	d.text("username", u.Username, username)
	d.links(u.Links, links)
	d.set("projects", u.Projects, projects)
	return d
}

func checkProfile(name, username string, links map[string]string) error {
	if err := roster.ValidateName(name); err != nil {
		return err
	}
	if username != "" {
		if err := roster.ValidateUsername(username); err != nil {
			return err
		}
	}
	for k, v := range links {
		if err := roster.ValidateLink(k, v); err != nil {
			return err
		}
	}
	return nil
}

// checkUnique applies R1 to a username and links for user id (0: new).
func (o *op) checkUnique(id int64, username string, links map[string]string) error {
	if username != "" {
		other, err := o.tx.UsernameTaken(o.ctx, username)
		if err != nil {
			return err
		}
		if other != 0 && other != id {
			return roster.Errorf(roster.ErrConflict, "username %s is taken", username)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(links)) {
		other, err := o.tx.LinkTaken(o.ctx, k, links[k])
		if err != nil {
			return err
		}
		if other != 0 && other != id {
			return roster.Errorf(roster.ErrConflict, "link %s=%s belongs to another user", k, links[k])
		}
	}
	return nil
}

// target loads the user a change is about, after checking perm.
func (o *op) target(ref, perm string) (store.UserRow, error) {
	if err := o.require(perm); err != nil {
		return store.UserRow{}, err
	}
	return o.tx.UserByRef(o.ctx, ref)
}

// change runs a user change as one write and wraps its error with the verb
// and the user reference. perm, when set, is the permission the change
// needs whoever it is about: an actor without it is refused before the
// write lock is taken (writeAs); "" for changes one may make to oneself.
func (s *service) change(ctx context.Context, verb, ref, perm string, fn func(*op) (roster.UserResult, error)) (roster.UserResult, error) {
	var res roster.UserResult
	err := s.writeAs(ctx, perm, func(o *op) error {
		var err error
		res, err = fn(o)
		return err
	})
	if err != nil {
		return roster.UserResult{}, fmt.Errorf("%s %s: %w", verb, roster.Quote(ref), err)
	}
	return res, nil
}

// reload returns the user after a change.
func (o *op) reload(id int64, changed bool) (roster.UserResult, error) {
	row, err := o.tx.UserByRef(o.ctx, fmt.Sprint(id))
	if err != nil {
		return roster.UserResult{}, err
	}
	u, err := o.view(row.User)
	return roster.UserResult{User: u, Changed: changed}, err
}

func (s *service) UpdateUser(ctx context.Context, ref string, p roster.UpdateUser) (roster.UserResult, error) {
	var email string
	if p.Email != nil {
		var err error
		if email, err = roster.NormalizeEmail(*p.Email); err != nil {
			return roster.UserResult{}, err
		}
	}
	name, username := "", ""
	if p.Name != nil {
		name = *p.Name
	}
	if p.Username != nil {
		username = *p.Username
	}
	if err := checkProfile(name, username, p.Links); err != nil {
		return roster.UserResult{}, err
	}
	return s.change(ctx, "update", ref, "", func(o *op) (roster.UserResult, error) { return o.updateUser(ref, p, email) })
}

// updateUser is UpdateUser inside a transaction; email is p.Email normalised.
func (o *op) updateUser(ref string, p roster.UpdateUser, email string) (roster.UserResult, error) {
	// R15: everyone may change their own name and username.
	own := p.Email == nil && len(p.Links) == 0 && len(p.Unlink) == 0
	u, err := o.tx.UserByRef(o.ctx, ref)
	if err != nil || !own || !o.act.is(u) {
		if u, err = o.target(ref, roster.PermUsersManage); err != nil {
			return roster.UserResult{}, err
		}
		if err := o.checkActOn(u, "edit"); err != nil {
			return roster.UserResult{}, err
		}
	}
	if err := o.checkServiceUpdate(u, p); err != nil {
		return roster.UserResult{}, err
	}
	changes := map[string]any{}
	set := func(field string, cur *string, v *string) {
		if v != nil && *v != *cur {
			changes[field] = map[string]any{"from": *cur, "to": *v}
			*cur = *v
		}
	}
	if p.Email != nil && email != u.Email {
		if other, err := o.tx.EmailTaken(o.ctx, email); err != nil {
			return roster.UserResult{}, err
		} else if other != 0 && other != u.ID {
			return roster.UserResult{}, roster.Errorf(roster.ErrConflict, "email %s belongs to another user", email)
		}
		set("email", &u.Email, &email)
	}
	set("name", &u.Name, p.Name)
	if p.Username != nil && *p.Username != u.Username {
		if err := o.checkUnique(u.ID, *p.Username, nil); err != nil {
			return roster.UserResult{}, err
		}
		set("username", &u.Username, p.Username)
	}
	if err := o.checkUnique(u.ID, "", p.Links); err != nil {
		return roster.UserResult{}, err
	}
	for _, k := range slices.Sorted(maps.Keys(p.Links)) {
		if u.Links[k] != p.Links[k] {
			changes["link."+k] = map[string]any{"from": u.Links[k], "to": p.Links[k]}
			if err := o.tx.SetLink(o.ctx, u.ID, k, p.Links[k]); err != nil {
				return roster.UserResult{}, err
			}
		}
	}
	for _, k := range dedupe(p.Unlink) {
		if _, ok := p.Links[k]; ok {
			return roster.UserResult{}, roster.Errorf(roster.ErrInvalid, "link %s is both set and removed", k)
		}
		if v, ok := u.Links[k]; ok {
			changes["link."+k] = map[string]any{"from": v, "to": ""}
			if err := o.tx.DeleteLink(o.ctx, u.ID, k); err != nil {
				return roster.UserResult{}, err
			}
		}
	}
	if len(changes) == 0 {
		return roster.UserResult{User: u.User}, nil
	}
	u.UpdatedAt = o.now
	if err := o.tx.UpdateUser(o.ctx, u); err != nil {
		return roster.UserResult{}, err
	}
	if err := o.audit("user.update", u.Handle(), u.ID, changes); err != nil {
		return roster.UserResult{}, err
	}
	return o.reload(u.ID, true)
}

func (s *service) SetRoles(ctx context.Context, ref string, roles []string) (roster.UserResult, error) {
	want := dedupe(roles)
	if len(want) == 0 {
		return roster.UserResult{}, roster.Errorf(roster.ErrInvalid, "set roles of %s: no role given", ref).
			WithHint("give at least one role; to remove one, use roster role unassign")
	}
	return s.change(ctx, "set roles of", ref, roster.PermUsersManage, func(o *op) (roster.UserResult, error) {
		return o.changeRoles(ref, "user.set_role", func([]string) []string { return want })
	})
}

func (s *service) AssignRole(ctx context.Context, role, ref string) (roster.UserResult, error) {
	return s.change(ctx, "assign "+roster.Quote(role)+" to", ref, roster.PermUsersManage, func(o *op) (roster.UserResult, error) {
		return o.changeRoles(ref, "role.assign", func(cur []string) []string { return dedupe(append(slices.Clone(cur), role)) })
	})
}

func (s *service) UnassignRole(ctx context.Context, role, ref string) (roster.UserResult, error) {
	return s.change(ctx, "unassign "+roster.Quote(role)+" from", ref, roster.PermUsersManage, func(o *op) (roster.UserResult, error) {
		if _, err := o.role(role); err != nil {
			return roster.UserResult{}, err
		}
		return o.changeRoles(ref, "role.unassign", func(cur []string) []string {
			return slices.DeleteFunc(slices.Clone(cur), func(r string) bool { return r == role })
		})
	})
}

// changeRoles is every change of a user's roles, applying R2–R5.
func (o *op) changeRoles(ref, action string, next func([]string) []string) (roster.UserResult, error) {
	u, err := o.target(ref, roster.PermUsersManage)
	if err != nil {
		return roster.UserResult{}, err
	}
	want := next(u.Roles)
	if err := o.rolesExist(want); err != nil {
		return roster.UserResult{}, err
	}
	added, removed := diff(u.Roles, want)
	if len(added) == 0 && len(removed) == 0 {
		return roster.UserResult{User: u.User}, nil
	}
	if err := o.checkNotSelf(u, "change the roles of"); err != nil {
		return roster.UserResult{}, err
	}
	if err := o.checkActOn(u, "change the roles of"); err != nil {
		return roster.UserResult{}, err
	}
	if slices.Contains(removed, roster.RoleOwner) {
		if err := o.checkKeepsOwner(u, "revoke owner from"); err != nil {
			return roster.UserResult{}, err
		}
	}
	if len(want) == 0 && len(u.Roles) > 0 { // R19: as set-role with no role
		return roster.UserResult{}, roster.Errorf(roster.ErrInvalid, "%s is %s's only role: a user keeps at least one", strings.Join(u.Roles, ", "), u.Handle()).
			WithHint("give another role first (roster role assign ROLE %s), or deactivate the user", u.Handle())
	}
	if err := o.checkGrant(added); err != nil {
		return roster.UserResult{}, err
	}
	if err := o.tx.SetUserRoles(o.ctx, u.ID, want); err != nil {
		return roster.UserResult{}, err
	}
	details := map[string]any{"from": u.Roles, "to": want}
	if err := o.audit(action, u.Handle(), u.ID, details); err != nil {
		return roster.UserResult{}, err
	}
	return o.reload(u.ID, true)
}

// diff returns what b adds to a and what it removes, both sorted.
func diff(a, b []string) (added, removed []string) {
	for _, x := range b {
		if !slices.Contains(a, x) {
			added = append(added, x)
		}
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			removed = append(removed, x)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}

func (s *service) SetPassword(ctx context.Context, ref string, p roster.SetPassword) (roster.UserResult, error) {
	var email string
	err := s.read(ctx, func(o *op) error {
		u, err := o.target(ref, roster.PermUsersManage)
		if err == nil {
			err = notPerson(u.User, "password")
		}
		email = u.Email
		return err
	})
	if err != nil {
		return roster.UserResult{}, fmt.Errorf("set password of %s: %w", roster.Quote(ref), err)
	}
	if p.Password == "" && !p.RandomPassword {
		return roster.UserResult{}, roster.Errorf(roster.ErrInvalid, "no password given")
	}
	hash, generated, err := s.secret(ctx, p.Password, p.RandomPassword, email)
	if err != nil {
		return roster.UserResult{}, err
	}
	res, err := s.change(ctx, "set password of", ref, roster.PermUsersManage, func(o *op) (roster.UserResult, error) {
		u, err := o.target(ref, roster.PermUsersManage)
		if err != nil {
			return roster.UserResult{}, err
		}
		if err := notPerson(u.User, "password"); err != nil {
			return roster.UserResult{}, err
		}
		if o.act.is(u) {
			return roster.UserResult{}, roster.Errorf(roster.ErrForbidden, "set-password is for other people's passwords").
				WithHint("change your own with roster account password, which asks for the current one")
		}
		if err := o.checkActOn(u, "set the password of"); err != nil {
			return roster.UserResult{}, err
		}
		u.PasswordHash, u.MustChangePassword, u.UpdatedAt = hash, p.MustChangePassword, o.now
		if err := o.tx.UpdateUser(o.ctx, u); err != nil {
			return roster.UserResult{}, err
		}
		details := map[string]any{"must_change_password": p.MustChangePassword}
		// R10: links and tokens stay valid unless asked.
		if p.RevokeSessions {
			n, err := o.tx.RevokeLinks(o.ctx, u.ID, store.LinkReset, o.now, "password set")
			if err != nil {
				return roster.UserResult{}, err
			}
			t, err := o.tx.RevokeTokens(o.ctx, u.ID, 0, o.now)
			if err != nil {
				return roster.UserResult{}, err
			}
			ended, err := o.tx.EndSessions(o.ctx, u.ID, 0)
			if err != nil {
				return roster.UserResult{}, err
			}
			details["links_revoked"], details["tokens_revoked"], details["sessions_ended"] = n, t, ended
		}
		if err := o.audit("user.set_password", u.Handle(), u.ID, details); err != nil {
			return roster.UserResult{}, err
		}
		return o.reload(u.ID, true)
	})
	res.Password = generated
	return res, err
}

func (s *service) DeactivateUser(ctx context.Context, ref, reason string) (roster.UserResult, error) {
	if err := roster.ValidateName(reason); err != nil {
		return roster.UserResult{}, roster.Errorf(roster.ErrInvalid, "invalid reason: use one line of at most 200 characters")
	}
	return s.change(ctx, "deactivate", ref, roster.PermUsersManage, func(o *op) (roster.UserResult, error) { return o.deactivate(ref, reason) })
}

// deactivate is DeactivateUser inside a transaction.
func (o *op) deactivate(ref, reason string) (roster.UserResult, error) {
	u, err := o.target(ref, roster.PermUsersManage)
	if err != nil {
		return roster.UserResult{}, err
	}
	if u.Status == roster.StatusDeactivated {
		return roster.UserResult{User: u.User}, nil
	}
	if err := o.checkNotSelf(u, "deactivate"); err != nil {
		return roster.UserResult{}, err
	}
	if err := o.checkActOn(u, "deactivate"); err != nil {
		return roster.UserResult{}, err
	}
	if err := o.checkKeepsOwner(u, "deactivate"); err != nil {
		return roster.UserResult{}, err
	}
	from := u.Status
	u.StatusBefore = u.Status
	u.Status, u.DeactivatedAt, u.Reason, u.UpdatedAt = roster.StatusDeactivated, &o.now, reason, o.now
	if err := o.tx.UpdateUser(o.ctx, u); err != nil {
		return roster.UserResult{}, err
	}
	// R8: their pending invitations and reset links die with access.
	revoked, err := o.tx.RevokeLinks(o.ctx, u.ID, "", o.now, "deactivated")
	if err != nil {
		return roster.UserResult{}, err
	}
	tokens, err := o.tx.RevokeTokens(o.ctx, u.ID, 0, o.now)
	if err != nil {
		return roster.UserResult{}, err
	}
	// Their browser sessions end too; a session also checks the status
	// at every request, so this is tidiness, not the guarantee.
	sessions, err := o.tx.EndSessions(o.ctx, u.ID, 0)
	if err != nil {
		return roster.UserResult{}, err
	}
	details := map[string]any{"from": from}
	if sessions > 0 {
		details["sessions_ended"] = sessions
	}
	if revoked > 0 {
		details["links_revoked"] = revoked
	}
	if tokens > 0 {
		details["tokens_revoked"] = tokens
	}
	if reason != "" {
		details["reason"] = reason
	}
	if err := o.audit("user.deactivate", u.Handle(), u.ID, details); err != nil {
		return roster.UserResult{}, err
	}
	return o.reload(u.ID, true)
}

func (s *service) ReactivateUser(ctx context.Context, ref string) (roster.UserResult, error) {
	return s.change(ctx, "reactivate", ref, roster.PermUsersManage, func(o *op) (roster.UserResult, error) { return o.reactivate(ref) })
}

// reactivate is ReactivateUser inside a transaction.
func (o *op) reactivate(ref string) (roster.UserResult, error) {
	u, err := o.target(ref, roster.PermUsersManage)
	if err != nil {
		return roster.UserResult{}, err
	}
	switch u.StatusAt(o.now) {
	case roster.StatusActive:
		return o.reload(u.ID, false)
	case roster.StatusInvited:
		return roster.UserResult{}, roster.Errorf(roster.ErrConflict, "%s has not accepted their invitation yet", u.Handle())
	}
	if u.Status == roster.StatusInvited {
		// Expired before accepting: a new invitation, not reactivation.
		return roster.UserResult{}, roster.Errorf(roster.ErrConflict, "%s expired before accepting their invitation", u.Handle()).
			WithHint("give them a new expiry with roster user set-expiry, or delete them and invite again")
	}
	if err := o.checkActOn(u, "reactivate"); err != nil {
		return roster.UserResult{}, err
	}
	// Back to the status held before: an invited user who never
	// accepted is invited again, and takes no seat (R9). An expiry that
	// has passed goes: reactivating means access again.
	back := u.StatusBefore
	if u.Status == roster.StatusActive {
		back = roster.StatusActive
	}
	if back != roster.StatusInvited {
		back = roster.StatusActive
		if err := o.checkSeatOf(u); err != nil {
			return roster.UserResult{}, err
		}
	}
	details := map[string]any{"to": back}
	if u.ExpiresAt != nil && !u.ExpiresAt.After(o.now) {
		details["expiry_removed"] = u.ExpiresAt
		u.ExpiresAt = nil
	}
	u.Status, u.DeactivatedAt, u.Reason, u.UpdatedAt = back, nil, "", o.now
	if err := o.tx.UpdateUser(o.ctx, u); err != nil {
		return roster.UserResult{}, err
	}
	if err := o.audit("user.reactivate", u.Handle(), u.ID, details); err != nil {
		return roster.UserResult{}, err
	}
	return o.reload(u.ID, true)
}

func (s *service) SetExpiry(ctx context.Context, ref, expires string) (roster.UserResult, error) {
	return s.change(ctx, "set the expiry of", ref, roster.PermUsersManage, func(o *op) (roster.UserResult, error) { return o.setExpiry(ref, expires) })
}

// setExpiry is SetExpiry inside a transaction. A user whom the new expiry
// brings back from expired takes a seat again (R9); an expiry set on the
// last active owner is refused as deactivating them would be (R2), since
// at that instant nobody could sign in as an owner.
func (o *op) setExpiry(ref, expires string) (roster.UserResult, error) {
	at, err := roster.ParseExpiry(expires, o.now)
	if err != nil {
		return roster.UserResult{}, err
	}
	return o.expire(ref, at)
}

// expire gives the user ref the expiry at (nil: never), with the rules
// of SetExpiry; apply declares an instant that may be past.
func (o *op) expire(ref string, at *time.Time) (roster.UserResult, error) {
	u, err := o.target(ref, roster.PermUsersManage)
	if err != nil {
		return roster.UserResult{}, err
	}
	if sameInstant(u.ExpiresAt, at) {
		return o.reload(u.ID, false)
	}
	if err := o.checkNotSelf(u, "set the expiry of"); err != nil {
		return roster.UserResult{}, err
	}
	if err := o.checkActOn(u, "set the expiry of"); err != nil {
		return roster.UserResult{}, err
	}
	if at != nil {
		if err := o.checkKeepsOwner(u, "set an expiry on"); err != nil {
			return roster.UserResult{}, err
		}
	}
	back := u
	back.ExpiresAt = at
	if u.Status == roster.StatusActive && u.Expired(o.now) && !back.Expired(o.now) {
		if err := o.checkSeatOf(u); err != nil {
			return roster.UserResult{}, err
		}
	}
	from := u.ExpiresAt
	u.ExpiresAt, u.UpdatedAt = at, o.now
	if err := o.tx.UpdateUser(o.ctx, u); err != nil {
		return roster.UserResult{}, err
	}
	if err := o.audit("user.set_expiry", u.Handle(), u.ID, map[string]any{"from": from, "to": at}); err != nil {
		return roster.UserResult{}, err
	}
	return o.reload(u.ID, true)
}

// sameInstant reports whether two optional instants are equal: both
// absent, or the same instant.
func sameInstant(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func (s *service) DeleteUser(ctx context.Context, ref string) (roster.User, error) {
	res, err := s.change(ctx, "delete", ref, roster.PermUsersDelete, func(o *op) (roster.UserResult, error) {
		u, err := o.target(ref, roster.PermUsersDelete)
		if err != nil {
			return roster.UserResult{}, err
		}
		if err := o.checkNotSelf(u, "delete"); err != nil {
			return roster.UserResult{}, err
		}
		if err := o.checkActOn(u, "delete"); err != nil {
			return roster.UserResult{}, err
		}
		if err := o.checkKeepsOwner(u, "delete"); err != nil {
			return roster.UserResult{}, err
		}
		acted, err := o.tx.HasActed(o.ctx, u.ID)
		if err != nil {
			return roster.UserResult{}, err
		}
		if acted {
			return roster.UserResult{}, roster.Errorf(roster.ErrConflict, "%s has activity in the audit log and cannot be deleted (R7)", u.Handle()).
				WithHint("deactivate the user instead: roster user deactivate %s", u.Handle())
		}
		if err := o.tx.DeleteUser(o.ctx, u.ID); err != nil {
			return roster.UserResult{}, err
		}
		details := map[string]any{"status": u.Status, "roles": u.Roles}
		if err := o.audit("user.delete", u.Handle(), u.ID, details); err != nil {
			return roster.UserResult{}, err
		}
		return roster.UserResult{User: u.User, Changed: true}, nil
	})
	return res.User, err
}

func (s *service) ChangePassword(ctx context.Context, p roster.ChangePassword) (roster.User, error) {
	current, next := p.Current, p.New
	s = s.account()
	var me store.UserRow
	err := s.read(ctx, func(o *op) error {
		if o.act.user == nil {
			return roster.Errorf(roster.ErrInvalid, "the local administrator has no account password").
				WithHint("act as a user with --as USER, or set another user's password with roster user set-password")
		}
		me = *o.act.user
		return notPerson(me.User, "password")
	})
	if err != nil {
		return roster.User{}, err
	}
	// Check the current password before anything else, in constant time;
	// a wrong one says no more than that.
	if ok, _ := password.Verify(me.PasswordHash, current); !ok {
		if me.PasswordHash == "" {
			password.VerifyNone(current)
		}
		return roster.User{}, roster.Errorf(roster.ErrUnauthenticated, "the current password is wrong")
	}
	if current == next {
		return roster.User{}, roster.Errorf(roster.ErrInvalid, "the new password is the current one")
	}
	hash, _, err := s.secret(ctx, next, false, me.Email)
	if err != nil {
		return roster.User{}, err
	}
	res, err := s.change(ctx, "change password of", me.Handle(), "", func(o *op) (roster.UserResult, error) {
		u := *o.act.user
		// The hash checked above must still be the stored one.
		if u.PasswordHash != me.PasswordHash {
			return roster.UserResult{}, roster.Errorf(roster.ErrConflict, "the password changed meanwhile; try again")
		}
		u.PasswordHash, u.MustChangePassword, u.UpdatedAt = hash, false, o.now
		if err := o.tx.UpdateUser(o.ctx, u); err != nil {
			return roster.UserResult{}, err
		}
		// R18: whoever else holds a session or a link of theirs is out;
		// the session that made the change stays.
		details, err := o.endCredentials(u, s.sessionID(), p.RevokeTokens)
		if err != nil {
			return roster.UserResult{}, err
		}
		if err := o.audit("account.password", u.Handle(), u.ID, details); err != nil {
			return roster.UserResult{}, err
		}
		return o.reload(u.ID, true)
	})
	return res.User, err
}
