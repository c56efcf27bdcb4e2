package core

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/roster-dev/roster/internal/mail"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// Organisations (DESIGN.md, "Organisations"; R21). Every operation acts in
// one organisation: the one its Actor names, else its principal's own.
// A principal acting in an organisation not their own must be a system
// administrator (orgs.manage, or orgs.view for reading, held in the system
// organisation); to anyone else, another organisation does not exist.

// InOrg returns svc acting in the organisation slug: what the API's
// /api/v1/orgs/{org}/ routes serve. svc must be a Service of this package.
func InOrg(svc roster.Service, slug string) roster.Service {
	s, ok := svc.(*service)
	if !ok || slug == "" {
		return svc
	}
	c := *s
	c.actor.Org = slug
	return &c
}

// OrgContext returns ctx acting in the organisation slug ("" for the
// system organisation), for the calls made without a principal: sign-in,
// sign-in links, the pages' organisation name. An unknown organisation is
// roster.ErrNotFound. A link is used only in the organisation it is of,
// when ctx names one.
func (c *Core) OrgContext(ctx context.Context, slug string) (context.Context, error) {
	if slug == "" {
		return ctx, nil
	}
	var org store.OrgRow
	err := c.db.Read(ctx, func(tx store.Tx) error {
		var found bool
		var err error
		if org, found, err = tx.OrgBySlug(ctx, slug); err == nil && !found {
			err = orgNotFound(slug)
		}
		return err
	})
	if err != nil {
		return ctx, err
	}
	return store.WithOrg(ctx, org.ID), nil
}

// ManyOrgs reports whether the store holds more than one organisation:
// pages and links then carry theirs.
func (c *Core) ManyOrgs(ctx context.Context) (bool, error) {
	var many bool
	err := c.db.Read(ctx, func(tx store.Tx) (err error) {
		many, err = tx.ManyOrgs(ctx)
		return err
	})
	return many, err
}

func orgNotFound(slug string) error {
	return roster.Errorf(roster.ErrNotFound, "organisation %s not found", roster.Quote(slug)).
		WithHint("see roster org list, or leave out --org to act in your own")
}

func suspended(org store.OrgRow) error {
	return roster.Errorf(roster.ErrUnauthenticated, "the organisation %s is suspended", org.Slug).
		WithHint("a system administrator can resume it with roster org resume %s", org.Slug)
}

// enter finds the organisation an operation acts in and returns tx acting
// in it.
func (s *service) enter(ctx context.Context, tx store.Tx) (store.Tx, store.OrgRow, error) {
	var org store.OrgRow
	var found bool
	var err error
	switch {
	case s.actor.Org != "":
		org, found, err = tx.OrgBySlug(ctx, s.actor.Org)
	case s.signedIn != nil:
		// Authenticate found the user's organisation, and that it was active.
		return tx.In(s.home), store.OrgRow{ID: s.home, Org: roster.Org{Status: s.signedIn.OrgStatus}}, nil
	case s.home != 0:
		org, found, err = tx.OrgByID(ctx, s.home)
	default:
		org, found, err = tx.OrgByID(ctx, tx.Org())
	}
	if err == nil && !found {
		err = orgNotFound(s.actor.Org)
	}
	if err != nil {
		return nil, org, err
	}
	return tx.In(org.ID), org, nil
}

// orgRow is the organisation acted in, read when only its id is known.
func (o *op) orgRow() (store.OrgRow, error) {
	if o.org.Slug != "" {
		return o.org, nil
	}
	org, found, err := o.tx.OrgByID(o.ctx, o.tx.Org())
	if err == nil && !found {
		err = orgNotFound(fmt.Sprint(o.tx.Org()))
	}
	if err == nil {
		o.org = org
	}
	return org, err
}

// sysActor is a principal acting in an organisation not their own: a
// system administrator, as the organisation's owner would (orgs.manage),
// or reading only (orgs.view). To anyone else the organisation is not
// found (R21).
func (s *service) sysActor(o *op, write bool) (*actor, error) {
	org, err := o.orgRow()
	if err != nil {
		return nil, err
	}
	if s.home != store.SystemOrg {
		return nil, orgNotFound(org.Slug)
	}
	home := o.tx.In(store.SystemOrg)
	var u store.UserRow
	if s.signedIn != nil && !write {
		u = *s.signedIn
	} else if u, err = s.principalUser(o.ctx, home); err != nil {
		return nil, err
	}
	held, err := o.systemPerms(u)
	if err != nil {
		return nil, err
	}
	manage, view := slices.Contains(held, roster.PermOrgsManage), slices.Contains(held, roster.PermOrgsView)
	switch {
	case !manage && !view:
		return nil, orgNotFound(org.Slug)
	case write && !manage:
		return nil, roster.Errorf(roster.ErrForbidden, "%s holds orgs.view, which only reads in %s", u.Handle(), org.Slug).
			WithHint("acting in another organisation needs orgs.manage")
	}
	a := &actor{name: "sys:" + u.Handle(), via: s.actor.Via, owner: manage, sys: &u}
	a.holdAsSys(o.cat)
	return a, nil
}

// holdAsSys gives a system administrator acting in another organisation
// what its owner holds there (every permission of cat), or, without
// orgs.manage (owner unset), what only lets them see.
func (a *actor) holdAsSys(cat store.Catalog) {
	a.perms = map[string]bool{}
	for _, p := range cat.Permissions {
		if a.owner || readOnly(p.Name) {
			a.perms[p.Name] = true
		}
	}
}

// systemPerms is what u, a user of the system organisation, holds there:
// orgs.* among them for system administrators.
func (o *op) systemPerms(u store.UserRow) ([]string, error) {
	cat, err := o.core.catalog.get(o.ctx, o.tx.In(store.SystemOrg))
	if err != nil {
		return nil, err
	}
	return effectiveIn(cat, u.Roles), nil
}

// readOnly reports whether a permission only lets its holder see.
func readOnly(perm string) bool {
	return strings.HasSuffix(perm, ".view") || perm == roster.PermProjectsViewAll
}

// effectiveIn is the permission closure of a set of roles in a catalog.
func effectiveIn(cat store.Catalog, roles []string) []string {
	var perms []string
	for _, r := range roles {
		perms = append(perms, cat.Roles[r].Permissions...)
	}
	return cat.Closure(perms)
}

// home returns s acting in its principal's own organisation, whatever
// organisation it was asked to act in: organisations are managed from
// there. A token's user's own is the token's; the local administrator's
// the system organisation; a user named locally (--as) is of the
// organisation named with them (--org), which is theirs.
func (s *service) atHome() *service {
	c := *s
	if s.home != 0 || s.actor.User == "" {
		c.actor.Org = ""
	}
	return &c
}

// requireSystem lets the local administrator, and a system administrator
// holding perm, manage organisations.
func (o *op) requireSystem(perm string) error {
	if o.act.super || (o.tx.Org() == store.SystemOrg && o.act.has(perm)) {
		return nil
	}
	return roster.Errorf(roster.ErrForbidden, "%s lacks the %s permission", o.act.name, perm).
		WithHint("organisations are managed by system administrators, who hold %s in the system organisation", perm)
}

// slugPattern is an organisation's slug: 2 to 40 of a-z, 0-9 and '-',
// neither starting nor ending with '-'. Its length is checked apart (see
// roster's patterns).
var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)

// ValidateOrgSlug checks an organisation's slug.
func ValidateOrgSlug(slug string) error {
	if len(slug) > 40 || !slugPattern.MatchString(slug) {
		return roster.Errorf(roster.ErrInvalid, "invalid organisation slug %s", roster.Quote(slug)).
			WithHint("use 2 to 40 of a-z, 0-9 and -, not starting or ending with -")
	}
	return nil
}

// view is an organisation with its counts, as org list and org show give
// it.
func (o *op) orgView(org store.OrgRow) (roster.Org, error) {
	v := org.Org
	v.System = org.ID == store.SystemOrg
	in := o.tx.In(org.ID)
	var err error
	if v.Users, err = in.UserCount(o.ctx); err != nil {
		return v, err
	}
	if v.ActiveUsers, err = in.CountActive(o.ctx, o.now); err != nil {
		return v, err
	}
	if v.Projects, err = in.CountProjects(o.ctx); err != nil {
		return v, err
	}
	stored, err := in.Settings(o.ctx)
	v.Seats = roster.Settings(stored).Int("seats")
	return v, err
}

// findOrg finds an organisation the actor may see: any for system
// administrators, else only their own (R21).
func (o *op) findOrg(slug string) (store.OrgRow, error) {
	org, found, err := o.tx.OrgBySlug(o.ctx, slug)
	if err != nil {
		return org, err
	}
	if !found || (org.ID != o.tx.Org() && o.requireSystem(roster.PermOrgsView) != nil && o.requireSystem(roster.PermOrgsManage) != nil) {
		return org, orgNotFound(slug)
	}
	return org, nil
}

func (s *service) ListOrgs(ctx context.Context) ([]roster.Org, error) {
	var out []roster.Org
	err := s.atHome().read(ctx, func(o *op) error {
		if o.requireSystem(roster.PermOrgsView) != nil {
			if err := o.requireSystem(roster.PermOrgsManage); err != nil {
				return err
			}
		}
		orgs, err := o.tx.Orgs(ctx)
		if err != nil {
			return err
		}
		for _, org := range orgs {
			v, err := o.orgView(org)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

func (s *service) GetOrg(ctx context.Context, slug string) (roster.Org, error) {
	var v roster.Org
	err := s.atHome().read(ctx, func(o *op) error {
		org, err := o.findOrg(slug)
		if err != nil {
			return err
		}
		if org.ID == o.tx.Org() && !o.act.super && o.act.sys == nil {
			// One's own organisation: for those who manage its settings.
			if err := o.require(roster.PermSettingsManage); err != nil {
				return err
			}
		}
		v, err = o.orgView(org)
		return err
	})
	return v, err
}

func (s *service) CreateOrg(ctx context.Context, p roster.CreateOrg) (roster.OrgResult, error) {
	var res roster.OrgResult
	if err := ValidateOrgSlug(p.Slug); err != nil {
		return res, err
	}
	if p.Name == "" {
		p.Name = p.Slug
	}
	if err := roster.ValidateName(p.Name); err != nil {
		return res, err
	}
	email, err := roster.NormalizeEmail(p.OwnerEmail)
	if err != nil {
		return res, fmt.Errorf("--owner-email: %w", err)
	}
	if err := roster.ValidateName(p.OwnerName); err != nil {
		return res, err
	}
	if p.Invite && (p.Password != "" || p.RandomPassword) {
		return res, roster.Errorf(roster.ErrInvalid, "an invited owner chooses their own password").
			WithHint("give --invite or a password, not both")
	}
	// The password policy of a new organisation is the default one.
	hash, generated, err := s.secret(ctx, p.Password, p.RandomPassword, email)
	if err != nil {
		return res, err
	}
	var set roster.Settings
	var cfg mail.Config
	var sent store.Link
	var from string
	home := s.atHome()
	err = home.write(ctx, func(o *op) error {
		if err := o.requireSystem(roster.PermOrgsManage); err != nil {
			return err
		}
		if org, found, err := o.tx.OrgBySlug(ctx, p.Slug); err != nil {
			return err
		} else if found {
			if !p.IfNotExists {
				return roster.Errorf(roster.ErrConflict, "organisation %s already exists", p.Slug).
					WithHint("choose another slug, or give --if-not-exists")
			}
			res.Org, err = o.orgView(org)
			return err
		}
		id, err := o.tx.InsertOrg(ctx, roster.Org{Slug: p.Slug, Name: p.Name, Status: roster.OrgActive}, o.now)
		if err != nil {
			return err
		}
		in, err := o.actIn(id)
		if err != nil {
			return err
		}
		if err := in.tx.SetSetting(ctx, "org.name", p.Name); err != nil {
			return err
		}
		status := roster.StatusActive
		if p.Invite {
			status = roster.StatusInvited
		}
		row := store.UserRow{User: roster.User{Email: email, Name: p.OwnerName, Roles: []string{roster.RoleOwner},
			Status: status, CreatedAt: o.now, UpdatedAt: o.now}, PasswordHash: hash}
		if row.ID, err = in.tx.InsertUser(ctx, row); err != nil {
			return err
		}
		if err := in.audit("org.create", p.Slug, 0, map[string]any{"name": p.Name}); err != nil {
			return err
		}
		if err := in.audit("user.create", email, row.ID, map[string]any{"roles": row.Roles, "has_password": hash != ""}); err != nil {
			return err
		}
		if in.act.sys == nil {
			// A system administrator's acts are in the system log already;
			// the local administrator's creation goes there too.
			if err := o.audit("org.create", p.Slug, 0, map[string]any{"name": p.Name, "owner": email}); err != nil {
				return err
			}
		}
		if p.Invite {
			if set, err = in.settings(); err != nil {
				return err
			}
			if cfg, err = in.mailConfig(set, p.Send); err != nil {
				return err
			}
			life, err := ttl(set, "invite.ttl", 0)
			if err != nil {
				return err
			}
			l, tok, err := in.newLink(store.LinkInvite, row, row.Roles, life)
			if err != nil {
				return err
			}
			inv := invitationView(l, o.now)
			inv.Token = tok
			if inv.URL, err = in.linkURL(set, "invite", tok); err != nil {
				return err
			}
			sent, from, res.Invitation = l, o.act.person(), &inv
			if err := in.audit("invite.create", email, row.ID, map[string]any{"roles": row.Roles, "expires_at": l.ExpiresAt}); err != nil {
				return err
			}
		}
		org, _, err := o.tx.OrgByID(ctx, id)
		if err != nil {
			return err
		}
		if res.Org, err = o.orgView(org); err != nil {
			return err
		}
		owner, err := in.tx.UserByRef(ctx, email)
		if err != nil {
			return err
		}
		res.Changed, res.Owner, res.Password = true, &owner.User, generated
		return nil
	})
	if err != nil {
		return roster.OrgResult{}, fmt.Errorf("create organisation %s: %w", p.Slug, err)
	}
	if p.Send && res.Invitation != nil {
		inv := res.Invitation
		inv.Sent, inv.MailError = InOrg(s, p.Slug).(*service).deliver(ctx, cfg, inviteMessage(set, *inv, from, sent), "invite.send", sent)
	}
	return res, nil
}

// actIn is an operation in another organisation, in o's transaction, by
// o's actor acting there as its owner would: the local administrator, or
// a system administrator named sys:<email>.
func (o *op) actIn(org int64) (*op, error) {
	tx := o.tx.In(org)
	cat, err := tx.LoadCatalog(o.ctx)
	if err != nil {
		return nil, err
	}
	in := &op{ctx: o.ctx, tx: tx, cat: cat, now: o.now, core: o.core}
	if _, err := in.orgRow(); err != nil {
		return nil, err
	}
	if o.act.super || org == o.tx.Org() {
		in.act = o.act
		return in, nil
	}
	in.act = &actor{name: "sys:" + o.act.name, via: o.act.via, perms: map[string]bool{}, owner: true, sys: o.act.user}
	for _, p := range cat.Permissions {
		in.act.perms[p.Name] = true
	}
	return in, nil
}

func (s *service) UpdateOrg(ctx context.Context, slug string, p roster.UpdateOrg) (roster.OrgResult, error) {
	var res roster.OrgResult
	if p.Name != nil {
		if err := roster.ValidateName(*p.Name); err != nil {
			return res, err
		}
		if *p.Name == "" {
			return res, roster.Errorf(roster.ErrInvalid, "an organisation's name cannot be empty")
		}
	}
	err := s.atHome().write(ctx, func(o *op) error {
		if err := o.requireSystem(roster.PermOrgsManage); err != nil {
			if _, ferr := o.findOrg(slug); ferr != nil {
				return ferr
			}
			return err
		}
		org, err := o.findOrg(slug)
		if err != nil {
			return err
		}
		details := map[string]any{}
		if p.Name != nil && *p.Name != org.Name {
			details["name"] = map[string]string{"from": org.Name, "to": *p.Name}
			org.Name = *p.Name
			if err := o.tx.In(org.ID).SetSetting(ctx, "org.name", org.Name); err != nil {
				return err
			}
		}
		if p.Suspended != nil {
			want := roster.OrgActive
			if *p.Suspended {
				want = roster.OrgSuspended
			}
			if want == roster.OrgSuspended && org.ID == store.SystemOrg {
				return roster.Errorf(roster.ErrForbidden, "the system organisation cannot be suspended").
					WithHint("its administrators manage every other organisation")
			}
			if want != org.Status {
				details["status"] = map[string]string{"from": string(org.Status), "to": string(want)}
				org.Status = want
			}
		}
		if len(details) > 0 {
			if err := o.tx.UpdateOrg(ctx, org); err != nil {
				return err
			}
			res.Changed = true
			action := "org.update"
			if st, ok := details["status"].(map[string]string); ok && len(details) == 1 {
				action = map[string]string{"suspended": "org.suspend", "active": "org.resume"}[st["to"]]
			}
			if err := o.audit(action, org.Slug, 0, details); err != nil {
				return err
			}
			if org.ID != store.SystemOrg {
				in, err := o.actIn(org.ID)
				if err != nil {
					return err
				}
				if err := in.tx.InsertAudit(ctx, store.AuditEntry{AuditEvent: roster.AuditEvent{At: o.now, Actor: in.act.name,
					Via: o.act.via, Action: action, Target: org.Slug, Details: details}}); err != nil {
					return err
				}
			}
		}
		res.Org, err = o.orgView(org)
		return err
	})
	return res, err
}

// renameOrg keeps the organisation's name and its org.name setting one.
func (o *op) renameOrg(name string) error {
	org, err := o.orgRow()
	if err != nil || name == "" || org.Name == name {
		return err
	}
	org.Name = name
	o.org = org
	return o.tx.UpdateOrg(o.ctx, org)
}

func (s *service) DeleteOrg(ctx context.Context, slug, confirm string) (roster.OrgResult, error) {
	var res roster.OrgResult
	if confirm != slug {
		return res, roster.Errorf(roster.ErrInvalid, "deleting an organisation needs --confirm %s", slug).
			WithHint("it removes every user, role, project and audit event of %s, for good", slug)
	}
	err := s.atHome().write(ctx, func(o *op) error {
		org, err := o.findOrg(slug)
		if err != nil {
			return err
		}
		if org.ID == store.SystemOrg {
			return roster.Errorf(roster.ErrForbidden, "the system organisation cannot be deleted")
		}
		if org.ID == o.tx.Org() {
			// Its own owner may delete it.
			if !o.act.owner {
				return roster.Errorf(roster.ErrForbidden, "only an owner of %s, or a system administrator, can delete it", slug)
			}
		} else if err := o.requireSystem(roster.PermOrgsManage); err != nil {
			return err
		}
		if res.Org, err = o.orgView(org); err != nil {
			return err
		}
		res.Deleted = map[string]int{"users": res.Org.Users, "projects": res.Org.Projects}
		if err := o.tx.DeleteOrg(ctx, org.ID); err != nil {
			return err
		}
		res.Changed = true
		event := store.AuditEntry{AuditEvent: roster.AuditEvent{At: o.now, Actor: o.act.name, Via: o.act.via, Action: "org.delete",
			Target: slug, Details: map[string]any{"users": res.Org.Users, "projects": res.Org.Projects, "name": org.Name}}}
		if o.tx.Org() == store.SystemOrg {
			event.ActorID = o.act.id()
		}
		return o.tx.In(store.SystemOrg).InsertAudit(ctx, event)
	})
	return res, err
}

// moveTo makes o act in the organisation org, in the same transaction:
// for a link, found by its secret in whichever organisation it is of. A
// suspended organisation's links are dead; a link of another organisation
// than the one ctx names is unknown.
func (o *op) moveTo(org int64, what string) error {
	if named, ok := store.OrgNamed(o.ctx); ok && named != org {
		return unknownLink(what)
	}
	if org != o.tx.Org() {
		o.tx = o.tx.In(org)
		cat, err := o.core.catalog.get(o.ctx, o.tx)
		if err != nil {
			return err
		}
		o.cat, o.org = cat, store.OrgRow{ID: org}
	}
	row, err := o.orgRow()
	if err != nil {
		return err
	}
	if row.Status == roster.OrgSuspended {
		return suspended(row)
	}
	return nil
}

// nameSystemOrg gives the system organisation, which every store has from
// its making, the slug and name init was given.
func (o *op) nameSystemOrg(slug, name string) error {
	if slug == "" && name == "" {
		return nil
	}
	org, found, err := o.tx.OrgByID(o.ctx, store.SystemOrg)
	if err != nil || !found {
		return errors.Join(err, orgNotFound("the system organisation"))
	}
	if slug != "" {
		org.Slug = slug
	}
	if name == "" {
		name = org.Slug
	}
	org.Name = name
	if err := o.tx.UpdateOrg(o.ctx, org); err != nil {
		return err
	}
	o.org = org
	return o.tx.In(store.SystemOrg).SetSetting(o.ctx, "org.name", name)
}
