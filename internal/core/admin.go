package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// DefaultAuditLimit is how many events audit list shows when not told.
const DefaultAuditLimit = 50

func (s *service) Init(ctx context.Context, p roster.InitParams) (roster.InitResult, error) {
	var res roster.InitResult
	var owner store.UserRow
	var found bool
	var sys store.OrgRow
	err := s.read(ctx, func(o *op) error {
		var err error
		owner, found, err = o.tx.FirstOwner(ctx)
		if err == nil {
			sys, _, err = o.tx.OrgByID(ctx, store.SystemOrg)
		}
		return err
	})
	if err != nil {
		return res, err
	}
	if found && p.Org != "" && p.Org != sys.Slug {
		return s.initOrg(ctx, p)
	}
	if found {
		return s.initialised(ctx, owner, p.OwnerEmail)
	}
	if p.OwnerEmail == "" {
		return res, roster.Errorf(roster.ErrInvalid, "the store has no owner yet: --owner-email is required")
	}
	email, err := roster.NormalizeEmail(p.OwnerEmail)
	if err != nil {
		return res, err
	}
	if err := roster.ValidateName(p.OwnerName); err != nil {
		return res, err
	}
	if p.Password == "" && !p.RandomPassword {
		return res, roster.ErrPasswordRequired
	}
	if p.Org != "" {
		if err := ValidateOrgSlug(p.Org); err != nil {
			return res, fmt.Errorf("--org: %w", err)
		}
	}
	if err := roster.ValidateName(p.OrgName); err != nil {
		return res, fmt.Errorf("--org-name: %w", err)
	}
	hash, generated, err := s.secret(ctx, p.Password, p.RandomPassword, email)
	if err != nil {
		return res, err
	}
	err = s.write(ctx, func(o *op) error {
		// Another init may have won the race since the read above.
		if owner, found, err = o.tx.FirstOwner(ctx); err != nil || found {
			res.Owner, generated = owner.User, ""
			return err
		}
		if o.act.user != nil {
			return roster.Errorf(roster.ErrForbidden, "only the local administrator can initialise a store").
				WithHint("run roster init without --as")
		}
		if id, err := o.tx.EmailTaken(ctx, email); err != nil || id != 0 {
			if err == nil {
				err = roster.Errorf(roster.ErrConflict, "user %s already exists but the store has no owner", email)
			}
			return err
		}
		row := store.UserRow{User: roster.User{
			Email: email, Name: p.OwnerName, Roles: []string{roster.RoleOwner}, Status: roster.StatusActive,
			CreatedAt: o.now, UpdatedAt: o.now,
		}, PasswordHash: hash}
		id, err := o.tx.InsertUser(ctx, row)
		if err != nil {
			return err
		}
		if err := o.audit("store.init", email, id, map[string]any{"schema_version": s.core.db.SchemaVersion()}); err != nil {
			return err
		}
		if err := o.audit("user.create", email, id, map[string]any{"roles": row.Roles, "has_password": hash != ""}); err != nil {
			return err
		}
		if err := o.nameSystemOrg(p.Org, p.OrgName); err != nil {
			return err
		}
		res.Changed = true
		u, err := o.tx.UserByRef(ctx, email)
		res.Owner = u.User
		return err
	})
	if err != nil {
		return roster.InitResult{}, fmt.Errorf("init: %w", err)
	}
	if !res.Changed {
		return s.initialised(ctx, owner, p.OwnerEmail)
	}
	res.Password = generated
	return res, nil
}

// initOrg is init naming, in an initialised store, an organisation
// other than the system one: it makes the organisation with its owner, as
// org create does for the local administrator, or, when it exists,
// answers as init on an initialised store does, from inside it.
func (s *service) initOrg(ctx context.Context, p roster.InitParams) (roster.InitResult, error) {
	var owner store.UserRow
	var found bool
	in := InOrg(s, p.Org).(*service)
	err := in.read(ctx, func(o *op) error {
		var err error
		owner, found, err = o.tx.FirstOwner(ctx)
		return err
	})
	if err == nil && found {
		return in.initialised(ctx, owner, p.OwnerEmail)
	}
	if err != nil && !errors.Is(err, roster.ErrNotFound) {
		return roster.InitResult{}, err
	}
	if p.Password == "" && !p.RandomPassword {
		return roster.InitResult{}, roster.ErrPasswordRequired
	}
	res, err := s.CreateOrg(ctx, roster.CreateOrg{Slug: p.Org, Name: p.OrgName, OwnerEmail: p.OwnerEmail,
		OwnerName: p.OwnerName, Password: p.Password, RandomPassword: p.RandomPassword})
	if err != nil {
		return roster.InitResult{}, fmt.Errorf("init: %w", err)
	}
	return roster.InitResult{Owner: *res.Owner, Changed: true, Password: res.Password}, nil
}

// initialised answers init on a store that has an owner: unchanged when
// no owner email was asked for or it names an owner, and a conflict
// naming the owner otherwise, so that a script asking for B does not go on
// believing B owns a store that A owns.
func (s *service) initialised(ctx context.Context, first store.UserRow, email string) (roster.InitResult, error) {
	if email == "" || roster.EmailKey(strings.TrimSpace(email)) == roster.EmailKey(first.Email) {
		return roster.InitResult{Owner: first.User}, nil
	}
	var named store.UserRow
	err := s.read(ctx, func(o *op) error {
		u, err := o.tx.UserByRef(ctx, strings.TrimSpace(email))
		if err == nil && u.Status == roster.StatusActive && slices.Contains(u.Roles, roster.RoleOwner) {
			named = u
		}
		return nil
	})
	if err != nil {
		return roster.InitResult{}, err
	}
	if named.ID != 0 {
		return roster.InitResult{Owner: named.User}, nil
	}
	return roster.InitResult{}, roster.Errorf(roster.ErrConflict, "init: the store is already initialised, and its owner is %s, not %s", first.Handle(), email).
		WithHint("leave out --owner-email, or give --db a new store")
}

func (s *service) Can(ctx context.Context, ref, perm, project string) (roster.Decision, error) {
	d := roster.Decision{Permission: perm, Project: project, GrantedBy: []string{}}
	err := s.read(ctx, func(o *op) error {
		u, err := o.visibleUser(ref)
		if err != nil {
			return err
		}
		if _, ok := o.cat.Permission(perm); !ok {
			return roster.Errorf(roster.ErrNotFound, "permission %s not found", perm).WithHint("see roster permission list")
		}
		d.User = u.Handle()
		for _, r := range u.Roles {
			if slices.Contains(o.effective([]string{r}), perm) {
				d.GrantedBy = append(d.GrantedBy, r)
			}
		}
		d.Allowed = len(d.GrantedBy) > 0
		if project != "" {
			p, err := o.project(project)
			if err != nil {
				return err
			}
			if err := o.scopeToProject(&d, u, p); err != nil {
				return err
			}
		}
		if status := u.StatusAt(o.now); d.Allowed && status != roster.StatusActive {
			d.Allowed = false
			d.Reason = "the account is " + string(status)
		}
		// Asked of oneself through a scoped token, the answer is what the
		// token may do.
		if d.Allowed && o.act.is(u) && slices.Contains(o.act.removed, perm) {
			d.Allowed = false
			d.Reason = "this token's scope leaves it out"
		}
		return nil
	})
	return d, err
}

func (s *service) ListAudit(ctx context.Context, f roster.AuditFilter) ([]roster.AuditEvent, error) {
	var out []roster.AuditEvent
	switch {
	case f.Limit == 0:
		f.Limit = DefaultAuditLimit
	case f.Limit < 0 || f.Limit > 100000:
		return nil, roster.Errorf(roster.ErrInvalid, "invalid limit %d", f.Limit).WithHint("use 1 to 100000")
	}
	err := s.read(ctx, func(o *op) error {
		if err := o.require(roster.PermAuditView); err != nil {
			return err
		}
		q := store.AuditQuery{Since: f.Since, Until: f.Until, Action: f.Action, Limit: f.Limit, Actor: f.Actor, Target: f.Target}
		// A user reference matches by id, so renamed users keep their history;
		// anything else (a deleted user's email, local:root) matches by name.
		if f.Actor != "" {
			if u, err := o.tx.UserByRef(ctx, f.Actor); err == nil {
				q.ActorID = u.ID
			}
		}
		if f.Target != "" {
			if u, err := o.tx.UserByRef(ctx, f.Target); err == nil {
				q.TargetID = u.ID
			}
		}
		var err error
		out, err = o.tx.ListAudit(ctx, q)
		return err
	})
	return out, err
}

func (s *service) GetSettings(ctx context.Context) (roster.Settings, error) {
	var set roster.Settings
	err := s.read(ctx, func(o *op) error {
		if err := o.require(roster.PermSettingsManage); err != nil {
			return err
		}
		var err error
		if set, err = o.settings(); err != nil {
			return err
		}
		if s.core.server { // R16: host settings are not read through the server
			for k := range set {
				if roster.IsHostSetting(k) {
					delete(set, k)
				}
			}
		}
		return nil
	})
	return set, err
}

// hostSettingErr refuses a host setting through the server (R16).
func hostSettingErr(key string) error {
	return roster.Errorf(roster.ErrForbidden, "%s is a host setting: it is set by whoever runs the server, never through it (R16)", key).
		WithHint("on the server's host, give it to roster serve (%s, or its environment or config file), or set it there in local mode with roster --db", hostFlag(key))
}

// hostFlag is roster serve's flag for a host setting.
func hostFlag(key string) string {
	if key == "mail.password_file" {
		return "--mail-password-file"
	}
	return "--" + strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

func (s *service) SetSetting(ctx context.Context, key, value string) (roster.SettingResult, error) {
	res := roster.SettingResult{Key: key, Value: value}
	spec, ok := roster.LookupSetting(key)
	if !ok {
		return res, roster.Errorf(roster.ErrInvalid, "unknown setting %q", key).WithHint("see roster settings show for the keys")
	}
	if spec.Host && s.core.server {
		return res, hostSettingErr(key)
	}
	if err := spec.Check(value); err != nil {
		return res, err
	}
	err := s.writeAs(ctx, roster.PermSettingsManage, func(o *op) error {
		set, err := o.settings()
		if err != nil {
			return err
		}
		if set[key] == value {
			return nil
		}
		// Host settings are the host's, kept with the system organisation
		// whichever organisation sets them (locally, R16).
		tx := o.tx
		if spec.Host {
			tx = tx.In(store.SystemOrg)
		}
		if err := tx.SetSetting(ctx, key, value); err != nil {
			return err
		}
		if key == "org.name" {
			if err := o.renameOrg(value); err != nil {
				return err
			}
		}
		res.Changed = true
		return o.audit("settings.set", key, 0, map[string]any{"from": set[key], "to": value})
	})
	return res, err
}

// scopeToProject narrows a decision to one project (R12): projects.members
// counts only where the user is a member, unless projects.manage grants it
// everywhere.
func (o *op) scopeToProject(d *roster.Decision, u store.UserRow, p store.ProjectRow) error {
	if d.Permission != roster.PermProjectsMembers || !d.Allowed {
		return nil
	}
	if slices.Contains(o.effective(u.Roles), roster.PermProjectsManage) {
		return nil
	}
	member, err := o.tx.IsMember(o.ctx, p.ID, u.ID)
	if err != nil || member {
		return err
	}
	d.Allowed, d.GrantedBy = false, []string{}
	d.Reason = u.Handle() + " is not a member of " + p.Slug
	return nil
}
