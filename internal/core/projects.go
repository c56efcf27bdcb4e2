package core

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// seesAll reports whether the actor sees every project: projects.view_all,
// or projects.manage, which acts on any project.
func (o *op) seesAll() bool {
	return o.act.has(roster.PermProjectsViewAll) || o.act.has(roster.PermProjectsManage)
}

// mine returns the slugs of the actor's projects, loaded once per operation.
func (o *op) mine() (map[string]bool, error) {
	if o.myProjects != nil {
		return o.myProjects, nil
	}
	o.myProjects = map[string]bool{}
	if o.act.user == nil {
		return o.myProjects, nil
	}
	ps, err := o.tx.ListProjects(o.ctx, o.act.user.ID)
	for _, p := range ps {
		o.myProjects[p.Slug] = true
	}
	return o.myProjects, err
}

// project finds a project the actor may see. Projects the actor may not
// see are "not found", never "forbidden": their existence is not told.
func (o *op) project(slug string) (store.ProjectRow, error) {
	p, found, err := o.tx.ProjectBySlug(o.ctx, slug)
	if err != nil {
		return p, err
	}
	notFound := roster.Errorf(roster.ErrNotFound, "project %s not found", slug).WithHint("see roster project list")
	if !found {
		return p, notFound
	}
	if !o.seesAll() {
		mine, err := o.mine()
		if err != nil {
			return p, err
		}
		if !mine[slug] {
			return p, notFound
		}
	}
	return p, nil
}

// managed finds a project the actor may see and change: projects.manage.
func (o *op) managed(slug string) (store.ProjectRow, error) {
	p, err := o.project(slug)
	if err != nil {
		return p, err
	}
	return p, o.require(roster.PermProjectsManage)
}

// checkMembers applies R12: projects.manage manages members anywhere,
// projects.members only in projects the actor belongs to.
func (o *op) checkMembers(p store.ProjectRow) error {
	if o.act.has(roster.PermProjectsManage) {
		return nil
	}
	if o.act.has(roster.PermProjectsMembers) {
		mine, err := o.mine()
		if err != nil {
			return err
		}
		if mine[p.Slug] {
			return nil
		}
		return roster.Errorf(roster.ErrForbidden, "%s manages members only of projects they belong to (R12)", o.act.name)
	}
	return o.require(roster.PermProjectsMembers)
}

// view is a user as the actor sees them: their status read at o.now
// (expired from the instant of their expiry on), and without the projects
// the actor may not see.
func (o *op) view(u roster.User) (roster.User, error) {
	u.Status = u.StatusAt(o.now)
	if o.seesAll() || len(u.Projects) == 0 {
		return u, nil
	}
	mine, err := o.mine()
	if err != nil {
		return u, err
	}
	u.Projects = slices.DeleteFunc(slices.Clone(u.Projects), func(s string) bool { return !mine[s] })
	return u, nil
}

// join adds u to projects at creation or invitation, checking R8 and R12.
func (o *op) join(u store.UserRow, slugs []string) error {
	for _, slug := range dedupe(slugs) {
		p, err := o.project(slug)
		if err != nil {
			return err
		}
		if err := o.addable(p, u); err != nil {
			return err
		}
		if _, err := o.tx.AddMember(o.ctx, p.ID, u.ID, o.now); err != nil {
			return err
		}
		if err := o.audit("project.member.add", u.Handle(), u.ID, map[string]any{"project": p.Slug}); err != nil {
			return err
		}
	}
	return nil
}

// addable checks that u may join p now: R12 for the actor, R8 for u, and
// archived projects take no new members.
func (o *op) addable(p store.ProjectRow, u store.UserRow) error {
	if err := o.checkMembers(p); err != nil {
		return err
	}
	if p.Archived {
		return roster.Errorf(roster.ErrConflict, "project %s is archived and takes no new members", p.Slug).
			WithHint("unarchive it first: roster project unarchive %s", p.Slug)
	}
	if u.Status == roster.StatusDeactivated {
		return roster.Errorf(roster.ErrConflict, "%s is deactivated and cannot be added to projects (R8)", u.Handle()).
			WithHint("reactivate the user first: roster user reactivate %s", u.Handle())
	}
	return nil
}

func (s *service) ListProjects(ctx context.Context) ([]roster.Project, error) {
	var out []roster.Project
	err := s.read(ctx, func(o *op) error {
		var memberOf int64
		if !o.seesAll() {
			if o.act.user == nil {
				out = []roster.Project{}
				return nil
			}
			memberOf = o.act.user.ID
		}
		var err error
		out, err = o.tx.ListProjects(ctx, memberOf)
		return err
	})
	return out, err
}

func (s *service) GetProject(ctx context.Context, slug string) (roster.Project, error) {
	var out roster.Project
	err := s.read(ctx, func(o *op) error {
		p, err := o.project(slug)
		out = p.Project
		return err
	})
	return out, err
}

func (s *service) CreateProject(ctx context.Context, p roster.CreateProject) (roster.Project, error) {
	var out roster.Project
	if err := roster.ValidateSlug(p.Slug); err != nil {
		return out, err
	}
	if err := roster.ValidateName(p.Name); err != nil {
		return out, err
	}
	err := s.writeAs(ctx, roster.PermProjectsCreate, func(o *op) error { return o.createProject(p, &out) })
	if err != nil {
		return roster.Project{}, fmt.Errorf("create project %s: %w", roster.Quote(p.Slug), err)
	}
	return out, nil
}

// createProject is CreateProject inside a transaction, for apply too.
func (o *op) createProject(p roster.CreateProject, out *roster.Project) error {
	ctx := o.ctx
	if err := o.require(roster.PermProjectsCreate); err != nil {
		return err
	}
	if cur, found, err := o.tx.ProjectBySlug(ctx, p.Slug); err != nil {
		return err
	} else if found {
		if !p.IfNotExists {
			return roster.Errorf(roster.ErrConflict, "project %s already exists", p.Slug).
				WithHint("use --if-not-exists to accept an existing project")
		}
		// A project the actor may not see is shown by its slug alone,
		// which they gave.
		*out = roster.Project{Slug: cur.Slug}
		var d differs
		if _, err := o.project(p.Slug); err == nil {
			*out = cur.Project
			d.text("name", cur.Name, p.Name)
		} else if !errors.Is(err, roster.ErrNotFound) {
			return err
		}
		out.Existing = d.existing()
		return nil
	}
	if _, err := o.tx.InsertProject(ctx, roster.Project{Slug: p.Slug, Name: p.Name}, o.now); err != nil {
		return err
	}
	row, _, err := o.tx.ProjectBySlug(ctx, p.Slug)
	*out = row.Project
	if err != nil {
		return err
	}
	return o.audit("project.create", p.Slug, 0, map[string]any{"name": p.Name})
}

// changeProject is every change of a project itself: it needs
// projects.manage and a project the actor can see.
func (s *service) changeProject(ctx context.Context, verb, slug string, fn func(o *op, p *store.ProjectRow) (map[string]any, string, error)) (roster.ProjectResult, error) {
	var res roster.ProjectResult
	err := s.write(ctx, func(o *op) (err error) {
		res, err = o.changeProject(slug, fn)
		return err
	})
	if err != nil {
		return roster.ProjectResult{}, fmt.Errorf("%s project %s: %w", verb, roster.Quote(slug), err)
	}
	return res, nil
}

// changeProject is a change of a project inside a transaction, for apply too.
func (o *op) changeProject(slug string, fn func(o *op, p *store.ProjectRow) (map[string]any, string, error)) (res roster.ProjectResult, err error) {
	ctx := o.ctx
	err = func() error {
		p, err := o.managed(slug)
		if err != nil {
			return err
		}
		details, action, err := fn(o, &p)
		if err != nil {
			return err
		}
		if len(details) > 0 {
			if err := o.tx.UpdateProject(ctx, p, o.now); err != nil {
				return err
			}
			if err := o.audit(action, p.Slug, 0, details); err != nil {
				return err
			}
		}
		row, _, err := o.tx.ProjectBySlug(ctx, p.Slug)
		res = roster.ProjectResult{Project: row.Project, Changed: len(details) > 0}
		return err
	}()
	return res, err
}

func (s *service) UpdateProject(ctx context.Context, slug string, u roster.UpdateProject) (roster.ProjectResult, error) {
	if u.Slug != nil {
		if err := roster.ValidateSlug(*u.Slug); err != nil {
			return roster.ProjectResult{}, err
		}
	}
	if u.Name != nil {
		if err := roster.ValidateName(*u.Name); err != nil {
			return roster.ProjectResult{}, err
		}
	}
	return s.changeProject(ctx, "update", slug, func(o *op, p *store.ProjectRow) (map[string]any, string, error) {
		details := map[string]any{}
		if u.Slug != nil && *u.Slug != p.Slug {
			if _, found, err := o.tx.ProjectBySlug(o.ctx, *u.Slug); err != nil || found {
				if err == nil {
					err = roster.Errorf(roster.ErrConflict, "project %s already exists", *u.Slug)
				}
				return nil, "", err
			}
			details["slug"] = map[string]any{"from": p.Slug, "to": *u.Slug}
			p.Slug = *u.Slug
		}
		if u.Name != nil && *u.Name != p.Name {
			details["name"] = map[string]any{"from": p.Name, "to": *u.Name}
			p.Name = *u.Name
		}
		return details, "project.update", nil
	})
}

func (s *service) ArchiveProject(ctx context.Context, slug string, archived bool) (roster.ProjectResult, error) {
	verb, action := "archive", "project.archive"
	if !archived {
		verb, action = "unarchive", "project.unarchive"
	}
	return s.changeProject(ctx, verb, slug, func(o *op, p *store.ProjectRow) (map[string]any, string, error) {
		if p.Archived == archived {
			return nil, "", nil
		}
		p.Archived = archived
		return map[string]any{"archived": archived}, action, nil
	})
}

func (s *service) DeleteProject(ctx context.Context, slug string) (roster.Project, error) {
	var out roster.Project
	err := s.write(ctx, func(o *op) error { return o.deleteProject(slug, &out) })
	if err != nil {
		return roster.Project{}, fmt.Errorf("delete project %s: %w", roster.Quote(slug), err)
	}
	return out, nil
}

// deleteProject is DeleteProject inside a transaction, for apply --prune too.
func (o *op) deleteProject(slug string, out *roster.Project) error {
	ctx := o.ctx
	p, err := o.managed(slug)
	if err != nil {
		return err
	}
	members, err := o.tx.Members(ctx, p.ID)
	if err != nil {
		return err
	}
	if err := o.tx.DeleteProject(ctx, p.ID); err != nil {
		return err
	}
	// Each member's own history shows the membership ending.
	for _, m := range members {
		if err := o.audit("project.member.remove", m.Email, m.ID, map[string]any{"project": p.Slug, "reason": "project deleted"}); err != nil {
			return err
		}
	}
	*out = p.Project
	return o.audit("project.delete", p.Slug, 0, map[string]any{"members": p.Members})
}

// changeMembers adds or removes several members in one transaction. A
// user's own failure (unknown, deactivated, …) is that user's outcome; a
// failure of the project or the store fails the whole call.
func (s *service) changeMembers(ctx context.Context, verb, slug string, refs []string, fn func(*op, store.ProjectRow, *store.UserRow) (bool, error)) ([]roster.MemberOutcome, error) {
	var out []roster.MemberOutcome
	err := s.write(ctx, func(o *op) error {
		out = make([]roster.MemberOutcome, 0, len(refs))
		p, err := o.project(slug)
		if err != nil {
			return err
		}
		if err := o.checkMembers(p); err != nil {
			return err
		}
		for _, ref := range refs {
			res, err := o.changeMember(p, ref, fn)
			var domain *roster.Error
			if err != nil && !errors.As(err, &domain) {
				return err
			}
			if err != nil {
				err = fmt.Errorf("%s %s: %w", verb, roster.Quote(ref), err)
			}
			out = append(out, roster.MemberOutcome{Ref: ref, Result: res, Err: err})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", verb, err)
	}
	return out, nil
}

func (o *op) changeMember(p store.ProjectRow, ref string, fn func(*op, store.ProjectRow, *store.UserRow) (bool, error)) (roster.MemberResult, error) {
	u, err := o.tx.UserByRef(o.ctx, ref)
	if err != nil {
		return roster.MemberResult{}, err
	}
	changed, err := fn(o, p, &u)
	if err != nil {
		return roster.MemberResult{}, err
	}
	// fn kept u.Projects current: no need to read the user again. Without
	// users.view the actor learns no more of the user than they named.
	view, _ := o.existingView(u)
	return roster.MemberResult{Project: p.Slug, User: view, Changed: changed}, nil
}

func (s *service) AddMembers(ctx context.Context, slug string, refs []string) ([]roster.MemberOutcome, error) {
	return s.changeMembers(ctx, "add to "+roster.Quote(slug), slug, refs, (*op).addMember)
}

// addMember adds u to p unless already a member (R13), applying R8 and R12.
func (o *op) addMember(p store.ProjectRow, u *store.UserRow) (bool, error) {
	if member, err := o.tx.IsMember(o.ctx, p.ID, u.ID); err != nil || member {
		return false, err // R13: already a member
	}
	if err := o.addable(p, *u); err != nil {
		return false, err
	}
	if _, err := o.tx.AddMember(o.ctx, p.ID, u.ID, o.now); err != nil {
		return false, err
	}
	u.Projects = append(u.Projects, p.Slug)
	slices.Sort(u.Projects)
	return true, o.audit("project.member.add", u.Handle(), u.ID, map[string]any{"project": p.Slug})
}

func (s *service) RemoveMembers(ctx context.Context, slug string, refs []string) ([]roster.MemberOutcome, error) {
	return s.changeMembers(ctx, "remove from "+roster.Quote(slug), slug, refs, (*op).removeMember)
}

// removeMember takes u out of p; R12 is the caller's to check.
func (o *op) removeMember(p store.ProjectRow, u *store.UserRow) (bool, error) {
	removed, err := o.tx.RemoveMember(o.ctx, p.ID, u.ID)
	if err != nil || !removed {
		return false, err
	}
	u.Projects = slices.DeleteFunc(u.Projects, func(s string) bool { return s == p.Slug })
	return true, o.audit("project.member.remove", u.Handle(), u.ID, map[string]any{"project": p.Slug})
}
