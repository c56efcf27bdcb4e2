package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/roster/records"
	"github.com/roster-dev/roster/internal/store"
)

// errDryRun rolls back a dry run. A plan is made by doing everything the
// change would do, every rule checked by the same helpers as one change
// at a time, inside the write transaction; a dry run then undoes it.
var errDryRun = errors.New("dry run")

func (s *service) SetProjects(ctx context.Context, ref string, slugs []string) (roster.UserResult, error) {
	want := dedupe(slugs)
	for _, sl := range want {
		if err := roster.ValidateSlug(sl); err != nil {
			return roster.UserResult{}, err
		}
	}
	return s.change(ctx, "set projects of", ref, "", func(o *op) (roster.UserResult, error) {
		// Like show: nobody learns who exists, or what they hold, without
		// users.view.
		u, err := o.visibleUser(ref)
		if err != nil {
			return roster.UserResult{}, err
		}
		added, removed, err := o.syncProjects(&u, want, true, o.project)
		if err != nil {
			return roster.UserResult{}, err
		}
		if len(added)+len(removed) == 0 {
			view, _ := o.existingView(u)
			return roster.UserResult{User: view}, nil
		}
		return o.reload(u.ID, true)
	})
}

// syncProjects makes the projects of u the actor can see equal want:
// adding what is missing (R8, R12, archived projects) and, with prune,
// removing the rest (R12). Projects the actor cannot see are left alone.
// project finds a project as o.project does (a batch remembers them).
func (o *op) syncProjects(u *store.UserRow, want []string, prune bool, project func(string) (store.ProjectRow, error)) (added, removed []string, err error) {
	view, err := o.view(u.User)
	if err != nil {
		return nil, nil, err
	}
	add, remove := diff(view.Projects, want)
	for _, slug := range add {
		p, err := project(slug)
		if err != nil {
			return nil, nil, err
		}
		if _, err := o.addMember(p, u); err != nil {
			return nil, nil, err
		}
	}
	if !prune {
		remove = nil
	}
	for _, slug := range remove {
		p, err := project(slug)
		if err != nil {
			return nil, nil, err
		}
		if err := o.checkMembers(p); err != nil {
			return nil, nil, err
		}
		if _, err := o.removeMember(p, u); err != nil {
			return nil, nil, err
		}
	}
	return add, remove, nil
}

// Import reads a regular file, or a file held in memory, while it writes
// the records read so far: such a file reads faster than its users are
// written, so the write waits for it only at the start and holds its lock
// no longer. Anything else (a pipe, a request's body still coming) is read
// to its end first, as it may come as slowly as its writer likes, and the
// write lock would wait with it.
func (s *service) Import(ctx context.Context, r io.Reader, p roster.ImportParams) (roster.Plan, error) {
	recs, err := records.StartUsers(r, p.Format)
	if err != nil {
		return roster.Plan{}, fmt.Errorf("import: %w", err)
	}
	defer recs.Stop()
	if !readsFast(r) {
		if _, err := recs.Wait(); err != nil {
			return roster.Plan{}, fmt.Errorf("import: %w", err)
		}
	}
	return s.provision(ctx, "import", p.DryRun, recs.Wait, func(b *batch) error { return b.users(recs) })
}

// readsFast reports whether r reads a regular file (os.File, or a reader
// of one that tells its Stat) or bytes held in memory (that tells their
// Len, as bytes.Reader does).
func readsFast(r io.Reader) bool {
	switch r := r.(type) {
	case interface{ Len() int }:
		return true
	case interface{ Stat() (fs.FileInfo, error) }:
		fi, err := r.Stat()
		return err == nil && fi.Mode().IsRegular()
	}
	return false
}

func (s *service) Apply(ctx context.Context, r io.Reader, p roster.ApplyParams) (roster.Plan, error) {
	progress := roster.ProgressOf(ctx)
	m, bad, err := records.ReadManifestWith(r, func(done, total int) { progress("checking", done, total) })
	if err != nil {
		return roster.Plan{}, fmt.Errorf("apply: %w", err)
	}
	read := func() (*records.Errors, error) { return bad, nil }
	return s.provision(ctx, "apply", p.DryRun, read, func(b *batch) error {
		b.prune = p.Prune
		return b.manifest(m)
	})
}

// batch is one import or apply: one transaction, its plan so far, and
// every bad line.
type batch struct {
	o     *op
	what  string
	prune bool
	plan  roster.Plan
	bad   *records.Errors
	kind  error // the first rule's failure, for the exit code
	// readerBad is set when the file itself had bad lines.
	readerBad bool
	active    int // users made active, for the seat limit (R9)
	// created are the new users not yet written, and events the events
	// not yet written: many to a statement, they cost a fraction of one
	// each. Both are written before anything reads users or writes
	// another event, so the store and the log are as if each had been
	// written at once, in order.
	created []*newUser
	events  []pendingEvent
	// projects are the projects users join, found once each: a lookup
	// counts a project's members, once per row it made import quadratic.
	// Forgotten whenever the batch changes a project.
	projects map[string]store.ProjectRow
	// room is how many more changes the records not yet done may make,
	// when that is known (see users); 0 when not.
	room int
	// keptPasswords are the users who have a password and whose record
	// gave another password_hash, which was not applied.
	keptPasswords []string
}

// newUser is a user created but not yet written, with the projects it joins.
type newUser struct {
	row      store.UserRow
	projects []int64
}

// pendingEvent is an event not yet written; one about a user not yet
// written takes that user's id when both are.
type pendingEvent struct {
	store.AuditEntry
	about *newUser
}

// event records an event as o.audit would, later (see events).
func (b *batch) event(action, target string, about *newUser, details map[string]any) {
	o := b.o
	if addr := roster.ClientOf(o.ctx); addr != "" {
		details["client"] = addr
	}
	b.events = append(b.events, pendingEvent{AuditEntry: store.AuditEntry{
		AuditEvent: roster.AuditEvent{At: o.now, Actor: o.act.name, Via: o.act.via, Action: action, Target: target, Details: details},
		ActorID:    o.act.id(),
	}, about: about})
}

// maxEvents bounds the events held back, and so the memory they take.
// A power of two, the store's largest chunk: an import without projects
// then writes its users, and their events, one statement at a time. Each
// statement costs more than its rows: on SQLite it flushes the search
// index's pending terms to a segment of its own (FTS5 does at every
// statement savepoint), and segments are merged again and again.
const maxEvents = 1024

// flush writes the users and events not yet written.
func (b *batch) flush() error {
	o := b.o
	if len(b.created) > 0 {
		rows := make([]store.UserRow, len(b.created))
		for i, u := range b.created {
			rows[i] = u.row
		}
		ids, err := o.tx.InsertUsers(o.ctx, rows)
		if err != nil {
			return err
		}
		var members []store.Membership
		for i, u := range b.created {
			u.row.ID = ids[i]
			for _, p := range u.projects {
				members = append(members, store.Membership{ProjectID: p, UserID: ids[i]})
			}
		}
		if err := o.tx.InsertMembers(o.ctx, members, o.now); err != nil {
			return err
		}
		b.created = b.created[:0]
	}
	if len(b.events) == 0 {
		return nil
	}
	entries := make([]store.AuditEntry, len(b.events))
	for i, e := range b.events {
		entries[i] = e.AuditEntry
		if e.about != nil {
			entries[i].TargetID = e.about.row.ID
		}
	}
	b.events = b.events[:0]
	return o.tx.InsertAudits(o.ctx, entries)
}

// lookupProject finds a project users join, as o.project does, once a batch.
func (b *batch) lookupProject(slug string) (store.ProjectRow, error) {
	if p, ok := b.projects[slug]; ok {
		return p, nil
	}
	p, err := b.o.project(slug)
	if err != nil {
		return p, err
	}
	if b.projects == nil {
		b.projects = map[string]store.ProjectRow{}
	}
	b.projects[slug] = p
	return p, nil
}

// provision runs fn as one write: all of it or, when any line is bad,
// nothing; a dry run is rolled back in any case. read gives the file's
// own bad lines once it has all been read.
func (s *service) provision(ctx context.Context, what string, dryRun bool, read func() (*records.Errors, error), fn func(*batch) error) (roster.Plan, error) {
	var plan roster.Plan
	err := s.write(ctx, func(o *op) error {
		// A store may run this again after a serialization failure: each
		// attempt starts with no bad line of its own.
		b := &batch{o: o, what: what, bad: &records.Errors{}, plan: roster.Plan{Changes: []roster.Change{}}}
		if err := fn(b); err != nil {
			return err
		}
		fileBad, err := read()
		if err != nil {
			return err
		}
		if fileBad.Len()+b.bad.Len() > 0 {
			bad := fileBad.Clone()
			bad.Merge(b.bad)
			b.bad, b.readerBad = bad, fileBad.Len() > 0
			return b.failure()
		}
		if err := b.flush(); err != nil {
			return err
		}
		b.keptNote()
		if b.active > 0 {
			if err := o.checkSeats(0); err != nil {
				return err
			}
		}
		plan = b.plan
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		plan.DryRun = true
		return plan, nil
	}
	if err != nil {
		var ie *roster.InputErrors
		if errors.As(err, &ie) {
			return roster.Plan{}, err // its message names the command already
		}
		return roster.Plan{}, fmt.Errorf("%s: %w", what, err)
	}
	return plan, nil
}

// failure is every bad line, in line order, as one error. Its kind is
// invalid input when the file itself has bad lines, otherwise the first
// rule's.
func (b *batch) failure() error {
	kind := b.kind
	if kind == nil || b.readerBad {
		kind = roster.ErrInvalid
	}
	return b.bad.Err(b.what, kind)
}

// keptNote tells, in the plan, of the password_hash values not applied
// to users who have a password.
func (b *batch) keptNote() {
	n := len(b.keptPasswords)
	if n == 0 {
		return
	}
	const shown = 10
	who := strings.Join(b.keptPasswords[:min(n, shown)], ", ")
	if n > shown {
		who += fmt.Sprintf(" and %d more", n-shown)
	}
	const how = "import and apply give a password only to users who have none; change one with roster user set-password"
	if n == 1 {
		b.plan.Kept = append(b.plan.Kept, fmt.Sprintf("the password of %s, who already has one, not the file's password_hash (%s)", who, how))
		return
	}
	b.plan.Kept = append(b.plan.Kept, fmt.Sprintf("the passwords of %d users who already have one, not the file's password_hash: %s (%s)", n, who, how))
}

// try runs one record's step. A domain error (a rule, a missing role) is
// that record's bad line and the batch goes on, so that every bad line is
// reported; anything else (the store failing) stops the batch.
func (b *batch) try(line int, fn func() error) error {
	err := fn()
	var de *roster.Error
	if err == nil || !errors.As(err, &de) {
		return err
	}
	if b.kind == nil {
		b.kind = de.Kind
	}
	b.bad.Add(line, err)
	return nil
}

// step is try for a step that reports its change, nil when there was
// nothing to do.
func (b *batch) step(line int, fn func() (*roster.Change, error)) error {
	return b.try(line, func() error {
		c, err := fn()
		switch {
		case err != nil:
			return err
		case c == nil:
			b.plan.Unchanged++
		default:
			c.Line = line
			if len(b.plan.Changes) == cap(b.plan.Changes) {
				b.plan.Changes = slices.Grow(b.plan.Changes, b.room)
			}
			b.plan.Changes = append(b.plan.Changes, *c)
		}
		return nil
	})
}

func listText(s []string) string { return "[" + strings.Join(s, " ") + "]" }

// idChunk is how many records' emails are looked up at once.
const idChunk = 1024

// users makes each user of recs match its record, in order, telling the
// context's progress function (roster.WithProgress) how far it got.
func (b *batch) users(recs *records.Users) error {
	o := b.o
	progress := roster.ProgressOf(o.ctx)
	emails := make([]string, 0, idChunk)
	for i := 0; ; i += idChunk {
		chunk := recs.Chunk(i, idChunk)
		if len(chunk) == 0 {
			return nil
		}
		// Once the file is read to its end, the plan makes room at once
		// for a change a record left: grown as it filled, copying its
		// changes again and again took 5 % of an import of 100,000 users.
		if total, all := recs.Count(); all {
			b.room = total - i
		}
		emails = emails[:0]
		for _, rec := range chunk {
			emails = append(emails, rec.Handle())
		}
		// No record changes another's email, and no two share one, so
		// what exists is known for the whole chunk before it is done, and
		// each user as read here is as its own record finds it: read in
		// one statement, not one round trip a record (a file of 100,000
		// unchanged users took 23 s through a server on PostgreSQL).
		existing, err := o.tx.UsersByKey(o.ctx, emails)
		if err != nil {
			return err
		}
		for _, rec := range chunk {
			var found *store.UserRow
			if u, ok := existing[roster.EmailKey(rec.Handle())]; ok {
				found = &u
			}
			if err := b.user(rec, found); err != nil {
				return err
			}
		}
		// While the file is still being read, its reading is what shows.
		if total, all := recs.Count(); all {
			progress("applying", i+len(chunk), total)
		}
	}
}

// user makes the store's user rec.Handle() match rec: existing is that
// user, or nil when there is none.
func (b *batch) user(rec roster.UserRecord, existing *store.UserRow) error {
	err := b.step(rec.Line, func() (*roster.Change, error) {
		if existing == nil {
			return b.createUser(rec)
		}
		if err := b.flush(); err != nil {
			return nil, err
		}
		return b.changeUser(rec, *existing)
	})
	if err == nil && len(b.events) >= maxEvents {
		err = b.flush()
	}
	return err
}

// createUser creates a user as CreateUser does, with the status and
// password hash the record gives. It is written later, with others
// (see batch.created).
func (b *batch) createUser(rec roster.UserRecord) (*roster.Change, error) {
	o := b.o
	if err := o.require(roster.PermUsersCreate); err != nil {
		return nil, err
	}
	roles := rec.Roles
	if len(roles) == 0 {
		roles = []string{roster.RoleMember}
	}
	if err := o.rolesExist(roles); err != nil {
		return nil, err
	}
	if err := o.checkGrant(roles); err != nil {
		return nil, err
	}
	// The users not yet written hold no username or link of this one's:
	// the file's records share none (records.Uniques).
	if err := o.checkUnique(0, rec.Username, rec.Links); err != nil {
		return nil, err
	}
	status := rec.Status
	if status == "" {
		status = roster.StatusActive
	}
	var expires *time.Time
	if rec.Expires != "" {
		var err error
		if expires, err = roster.ExpiryAt(rec.Expires, o.now); err != nil {
			return nil, err
		}
	}
	// A deactivated user joins projects as if active, then is
	// deactivated: R8 keeps deactivated users out of projects, but an
	// exported deactivated user's memberships are kept data.
	joining := status
	if status == roster.StatusDeactivated {
		joining = roster.StatusActive
	}
	u := &newUser{row: store.UserRow{User: roster.User{Kind: rec.Kind, Email: rec.Email, Name: rec.Name, Username: rec.Username, Roles: roles,
		Links: rec.Links, Status: status, CreatedAt: o.now, UpdatedAt: o.now, ExpiresAt: expires}, PasswordHash: rec.PasswordHash}}
	if status == roster.StatusDeactivated {
		u.row.StatusBefore, u.row.DeactivatedAt = roster.StatusActive, &o.now
	}
	projects := dedupe(rec.Projects)
	for _, slug := range projects {
		p, err := b.lookupProject(slug)
		if err != nil {
			return nil, err
		}
		as := u.row
		as.Status = joining
		if err := o.addable(p, as); err != nil {
			return nil, err
		}
		u.projects = append(u.projects, p.ID)
	}
	b.created = append(b.created, u)
	details := map[string]any{"roles": roles, "has_password": rec.PasswordHash != "", "status": status, "source": b.what}
	if len(rec.Links) > 0 {
		details["links"] = rec.Links
	}
	if expires != nil {
		details["expires_at"] = expires
	}
	b.event("user.create", rec.Handle(), u, details)
	for _, slug := range projects {
		b.event("project.member.add", rec.Handle(), u, map[string]any{"project": slug})
	}
	// An account already expired takes no seat (R9), nor does a
	// service account.
	if status == roster.StatusActive && !u.row.Expired(o.now) && !u.row.Service() {
		b.active++
	}
	c := &roster.Change{Op: roster.OpCreate, Kind: "user", Name: rec.Handle(),
		Fields: []roster.FieldChange{{Field: "roles", To: listText(roles)}}}
	if len(rec.Projects) > 0 {
		c.Fields = append(c.Fields, roster.FieldChange{Field: "projects", To: listText(rec.Projects)})
	}
	if status != roster.StatusActive {
		c.Fields = append(c.Fields, roster.FieldChange{Field: "status", To: string(status)})
	}
	if expires != nil {
		c.Fields = append(c.Fields, roster.FieldChange{Field: "expires", To: expiryText(expires)})
	}
	return c, nil
}

// changeUser makes an existing user match rec through the same helpers
// as user update, set-role, deactivate, reactivate and set-projects, so
// that R2–R5, R8, R12 and R14 hold as they do one change at a time.
// Empty fields of rec are not declared and stay as they are.
func (b *batch) changeUser(rec roster.UserRecord, u store.UserRow) (*roster.Change, error) {
	o := b.o
	var err error
	if store.KindOf(u.User) != store.KindOf(roster.User{Kind: rec.Kind}) {
		return nil, roster.Errorf(roster.ErrConflict, "%s is a %s here, not a %s", rec.Handle(), store.KindOf(u.User).Noun(),
			store.KindOf(roster.User{Kind: rec.Kind}).Noun()).WithHint("an account's kind never changes; give the other a name of its own")
	}
	var fields []roster.FieldChange
	field := func(name, from, to string) {
		fields = append(fields, roster.FieldChange{Field: name, From: from, To: to})
	}
	var up roster.UpdateUser
	profile := false
	if rec.Name != "" && rec.Name != u.Name {
		up.Name, profile = &rec.Name, true
		field("name", u.Name, rec.Name)
	}
	if rec.Username != "" && rec.Username != u.Username {
		up.Username, profile = &rec.Username, true
		field("username", u.Username, rec.Username)
	}
	up.Links = map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(rec.Links)) {
		if u.Links[k] != rec.Links[k] {
			up.Links[k], profile = rec.Links[k], true
			field("link "+k, u.Links[k], rec.Links[k])
		}
	}
	if b.prune {
		for _, k := range slices.Sorted(maps.Keys(u.Links)) {
			if _, ok := rec.Links[k]; !ok {
				up.Unlink, profile = append(up.Unlink, k), true
				field("link "+k, u.Links[k], "")
			}
		}
	}
	if profile {
		if _, err := o.updateUser(u.Handle(), up, ""); err != nil {
			return nil, err
		}
	}
	if len(rec.Roles) > 0 && !slices.Equal(dedupe(u.Roles), rec.Roles) {
		if _, err := o.changeRoles(u.Handle(), "user.set_role", func([]string) []string { return rec.Roles }); err != nil {
			return nil, err
		}
		field("roles", listText(u.Roles), listText(rec.Roles))
	}
	switch {
	case rec.PasswordHash == "":
	case !u.HasPassword:
		if err := b.setHash(u, rec.PasswordHash); err != nil {
			return nil, err
		}
		field("password", "none", "imported hash")
	case rec.PasswordHash != u.PasswordHash:
		// The password may have been changed, or rehashed at sign-in,
		// since the file was made: it stays, and the plan says so.
		b.keptPasswords = append(b.keptPasswords, u.Handle())
	}
	// R8: a user leaving is taken out of projects first; one coming back
	// is back before joining.
	status := rec.Status != "" && rec.Status != u.Status
	if status && rec.Status != roster.StatusDeactivated {
		if err := b.setStatus(u, rec.Status); err != nil {
			return nil, err
		}
		field("status", string(u.Status), string(rec.Status))
		if u, err = o.tx.UserByRef(o.ctx, rec.Handle()); err != nil {
			return nil, err
		}
	}
	added, removed, err := o.syncProjects(&u, rec.Projects, b.prune, b.lookupProject)
	if err != nil {
		return nil, err
	}
	if len(added)+len(removed) > 0 {
		view, _ := o.view(u.User)
		from := slices.Concat(slices.DeleteFunc(slices.Clone(view.Projects), func(s string) bool { return slices.Contains(added, s) }), removed)
		slices.Sort(from)
		field("projects", listText(from), listText(view.Projects))
	}
	if status && rec.Status == roster.StatusDeactivated {
		if err := b.setStatus(u, rec.Status); err != nil {
			return nil, err
		}
		field("status", string(u.Status), string(rec.Status))
	}
	if rec.Expires != "" {
		at, err := roster.ExpiryAt(rec.Expires, o.now)
		if err != nil {
			return nil, err
		}
		if !sameInstant(u.ExpiresAt, at) {
			if _, err := o.expire(u.Handle(), at); err != nil {
				return nil, err
			}
			field("expires", expiryText(u.ExpiresAt), expiryText(at))
		}
	}
	if len(fields) == 0 {
		return nil, nil
	}
	return &roster.Change{Op: roster.OpChange, Kind: "user", Name: u.Handle(), Fields: fields}, nil
}

// setStatus deactivates or reactivates u. Nobody becomes active through
// a file who has not accepted an invitation, nor invited again.
func (b *batch) setStatus(u store.UserRow, to roster.Status) error {
	o := b.o
	switch {
	case to == roster.StatusDeactivated:
		_, err := o.deactivate(u.Handle(), "")
		return err
	case to == roster.StatusActive && u.Status == roster.StatusDeactivated && u.StatusBefore != roster.StatusInvited:
		_, err := o.reactivate(u.Handle())
		return err
	case to == roster.StatusActive:
		return roster.Errorf(roster.ErrConflict, "%s has not accepted their invitation; they become active by accepting it", u.Handle())
	}
	return roster.Errorf(roster.ErrConflict, "%s is %s and cannot be made %s", u.Handle(), u.Status, to)
}

// setHash gives a user without a password an imported hash. A user who
// has one keeps it: it may have been rehashed at sign-in since the file
// was made, and importing the file again must change nothing (R13).
func (b *batch) setHash(u store.UserRow, hash string) error {
	o := b.o
	if _, err := o.target(u.Handle(), roster.PermUsersManage); err != nil {
		return err
	}
	// As set-password: one's own password is changed giving the current
	// one (R10), never set from a file.
	if o.act.is(u) {
		return roster.Errorf(roster.ErrForbidden, "nobody sets their own password from an import (R10)").
			WithHint("change it with roster account password")
	}
	if err := o.checkActOn(u, "set the password of"); err != nil {
		return err
	}
	row, err := o.tx.UserByRef(o.ctx, u.Handle())
	if err != nil {
		return err
	}
	row.PasswordHash, row.UpdatedAt = hash, o.now
	if err := o.tx.UpdateUser(o.ctx, row); err != nil {
		return err
	}
	return o.audit("user.set_password", u.Handle(), u.ID, map[string]any{"source": b.what})
}

// manifest applies an apply file in dependency order: permissions, then
// roles that grant them, projects, users and their memberships; with
// prune, the undeclared go in the reverse order.
func (b *batch) manifest(m roster.Manifest) error {
	// Each permission after those it implies, and the catalog read again
	// after each, so that clients.create may imply a clients.view the same
	// file declares, in any order.
	for _, p := range impliedFirst(m.Permissions) {
		if err := b.step(p.Line, func() (*roster.Change, error) { return b.permission(p) }); err != nil {
			return err
		}
		if err := b.reloadCatalog(); err != nil {
			return err
		}
	}
	for _, r := range m.Roles {
		if err := b.step(r.Line, func() (*roster.Change, error) { return b.role(r) }); err != nil {
			return err
		}
	}
	if err := b.reloadCatalog(); err != nil {
		return err
	}
	// Archived projects are archived after the users joined them.
	var archive []roster.ProjectRecord
	for _, p := range m.Projects {
		if err := b.step(p.Line, func() (*roster.Change, error) { return b.project(p, &archive) }); err != nil {
			return err
		}
	}
	b.projects = nil
	if err := b.users(records.UsersOf(m.Users)); err != nil {
		return err
	}
	if err := b.flush(); err != nil {
		return err
	}
	b.projects = nil
	for _, p := range archive {
		if err := b.try(p.Line, func() error { return b.setArchived(p.Slug, true) }); err != nil {
			return err
		}
	}
	if !b.prune {
		return nil
	}
	return b.pruneAll(m)
}

// impliedFirst orders permissions so that each comes after the declared
// ones it implies; a cycle keeps the file's order (and fails as it would).
func impliedFirst(ps []roster.PermissionRecord) []roster.PermissionRecord {
	first := map[string]int{} // name → index of its first declaration
	for i, p := range ps {
		if _, ok := first[p.Name]; !ok {
			first[p.Name] = i
		}
	}
	out := make([]roster.PermissionRecord, 0, len(ps))
	state := make([]int, len(ps)) // 1: being placed, 2: placed
	var place func(i int)
	place = func(i int) {
		if state[i] != 0 {
			return
		}
		state[i] = 1
		for _, imp := range ps[i].Implies {
			if j, ok := first[imp]; ok {
				place(j)
			}
		}
		state[i] = 2
		out = append(out, ps[i])
	}
	for i := range ps {
		place(i)
	}
	return out
}

// reloadCatalog reads the catalog again after apply changed it, and with
// it the actor's permissions: an owner or admin, or a system
// administrator acting as the owner, holds the permissions just
// registered, as they would in the next transaction.
func (b *batch) reloadCatalog() error {
	o := b.o
	cat, err := o.tx.LoadCatalog(o.ctx)
	if err != nil {
		return err
	}
	o.cat = cat
	switch {
	case o.act.user != nil:
		o.act = o.principal(*o.act.user, o.act.via)
	case o.act.sys != nil:
		o.act.holdAsSys(cat)
	}
	return nil
}

// permission creates an application permission. An existing one that
// differs is reported: roster edits no permission in place.
func (b *batch) permission(p roster.PermissionRecord) (*roster.Change, error) {
	o := b.o
	cur, ok := o.cat.Permission(p.Name)
	if !ok {
		var out roster.Permission
		if err := o.createPermission(roster.CreatePermission{Name: p.Name, Description: p.Description, Implies: p.Implies}, p.Implies, &out); err != nil {
			return nil, err
		}
		return &roster.Change{Op: roster.OpCreate, Kind: "permission", Name: p.Name}, nil
	}
	if cur.Builtin {
		return nil, roster.Errorf(roster.ErrInvalid, "%s is one of roster's own permissions; declare only application permissions", p.Name)
	}
	if cur.Description != p.Description || !slices.Equal(dedupe(cur.Implies), p.Implies) {
		return nil, roster.Errorf(roster.ErrConflict, "permission %s exists with description %q and implies %s, which apply cannot change",
			p.Name, cur.Description, listText(cur.Implies)).WithHint("delete it and apply again, or declare it as it is")
	}
	return nil, nil
}

// role creates or edits a custom role; its permissions are set exactly.
func (b *batch) role(r roster.RoleRecord) (*roster.Change, error) {
	o := b.o
	cur, ok := o.cat.Roles[r.Name]
	if !ok {
		var out roster.Role
		if err := o.createRole(roster.CreateRole{Name: r.Name, Description: r.Description, Permissions: r.Permissions}, r.Permissions, &out); err != nil {
			return nil, err
		}
		return &roster.Change{Op: roster.OpCreate, Kind: "role", Name: r.Name,
			Fields: []roster.FieldChange{{Field: "permissions", To: listText(r.Permissions)}}}, nil
	}
	add, remove := diff(cur.Permissions, r.Permissions)
	upd := roster.UpdateRole{Add: add, Remove: remove}
	var fields []roster.FieldChange
	if len(add)+len(remove) > 0 {
		fields = append(fields, roster.FieldChange{Field: "permissions", From: listText(cur.Permissions), To: listText(r.Permissions)})
	}
	if r.Description != cur.Description {
		upd.Description = &r.Description
		fields = append(fields, roster.FieldChange{Field: "description", From: cur.Description, To: r.Description})
	}
	if len(fields) == 0 {
		return nil, nil
	}
	var res roster.RoleResult
	if err := o.updateRole(r.Name, upd, &res); err != nil {
		return nil, err
	}
	return &roster.Change{Op: roster.OpChange, Kind: "role", Name: r.Name, Fields: fields}, nil
}

// project creates or renames a project; archiving waits for the users.
func (b *batch) project(p roster.ProjectRecord, archive *[]roster.ProjectRecord) (*roster.Change, error) {
	o := b.o
	cur, found, err := o.tx.ProjectBySlug(o.ctx, p.Slug)
	if err != nil {
		return nil, err
	}
	if !found {
		var out roster.Project
		if err := o.createProject(roster.CreateProject{Slug: p.Slug, Name: p.Name}, &out); err != nil {
			return nil, err
		}
		c := &roster.Change{Op: roster.OpCreate, Kind: "project", Name: p.Slug}
		if p.Archived {
			*archive = append(*archive, p)
			c.Fields = []roster.FieldChange{{Field: "archived", To: "true"}}
		}
		return c, nil
	}
	var fields []roster.FieldChange
	if p.Name != "" && p.Name != cur.Name {
		fields = append(fields, roster.FieldChange{Field: "name", From: cur.Name, To: p.Name})
		if _, err := o.changeProject(p.Slug, func(_ *op, row *store.ProjectRow) (map[string]any, string, error) {
			row.Name = p.Name
			return map[string]any{"name": map[string]any{"from": cur.Name, "to": p.Name}}, "project.update", nil
		}); err != nil {
			return nil, err
		}
	}
	if p.Archived != cur.Archived {
		fields = append(fields, roster.FieldChange{Field: "archived", From: fmt.Sprint(cur.Archived), To: fmt.Sprint(p.Archived)})
		if p.Archived {
			*archive = append(*archive, p)
		} else if err := b.setArchived(p.Slug, false); err != nil {
			return nil, err
		}
	}
	if len(fields) == 0 {
		return nil, nil
	}
	return &roster.Change{Op: roster.OpChange, Kind: "project", Name: p.Slug, Fields: fields}, nil
}

func (b *batch) setArchived(slug string, archived bool) error {
	action := "project.archive"
	if !archived {
		action = "project.unarchive"
	}
	_, err := b.o.changeProject(slug, func(_ *op, row *store.ProjectRow) (map[string]any, string, error) {
		if row.Archived == archived {
			return nil, "", nil
		}
		row.Archived = archived
		return map[string]any{"archived": archived}, action, nil
	})
	return err
}

// pruneAll removes what m does not declare: active and invited users are
// deactivated (R7 keeps people who acted; deactivation keeps their
// data), then custom roles, application permissions and projects are
// deleted, each through the command's own rules.
func (b *batch) pruneAll(m roster.Manifest) error {
	o := b.o
	declared := map[string]bool{}
	for _, u := range m.Users {
		declared[roster.EmailKey(u.Handle())] = true
	}
	f := roster.UserFilter{Limit: roster.MaxPageSize}
	var leave []string
	for {
		page, err := o.tx.ListUsers(o.ctx, f)
		if err != nil {
			return err
		}
		for _, u := range page.Items {
			if !declared[roster.EmailKey(u.Handle())] && u.Status != roster.StatusDeactivated {
				leave = append(leave, u.Handle())
			}
		}
		if page.Next == "" {
			break
		}
		f.After = page.Next
	}
	for _, email := range leave {
		if err := b.step(0, func() (*roster.Change, error) {
			if _, err := o.deactivate(email, "not in the apply file"); err != nil {
				return nil, err
			}
			return &roster.Change{Op: roster.OpRemove, Kind: "user", Name: email,
				Fields: []roster.FieldChange{{Field: "status", From: "active", To: "deactivated"}}}, nil
		}); err != nil {
			return err
		}
	}
	keep := func(names ...string) map[string]bool {
		k := map[string]bool{}
		for _, n := range names {
			k[n] = true
		}
		return k
	}
	var roleNames, permNames, slugs []string
	for _, r := range m.Roles {
		roleNames = append(roleNames, r.Name)
	}
	for _, p := range m.Permissions {
		permNames = append(permNames, p.Name)
	}
	for _, p := range m.Projects {
		slugs = append(slugs, p.Slug)
	}
	keptRoles, keptPerms, keptProjects := keep(roleNames...), keep(permNames...), keep(slugs...)
	for _, name := range slices.Sorted(maps.Keys(o.cat.Roles)) {
		if o.cat.Roles[name].Builtin || keptRoles[name] {
			continue
		}
		// A role still held, if only by someone just deactivated, stays
		// (R6): --prune removes what nobody uses, it moves nobody.
		holders, err := o.tx.RoleHolderIDs(o.ctx, name)
		if err != nil {
			return err
		}
		if len(holders) > 0 {
			b.plan.Kept = append(b.plan.Kept, fmt.Sprintf("role %s: held by %d user(s) (R6)", name, len(holders)))
			continue
		}
		if err := b.step(0, func() (*roster.Change, error) {
			var out roster.Role
			return &roster.Change{Op: roster.OpRemove, Kind: "role", Name: name}, o.deleteRole(name, "", &out)
		}); err != nil {
			return err
		}
	}
	if err := b.reloadCatalog(); err != nil {
		return err
	}
	for _, p := range o.cat.Permissions {
		if p.Builtin || keptPerms[p.Name] {
			continue
		}
		if err := b.step(0, func() (*roster.Change, error) {
			var out roster.Permission
			return &roster.Change{Op: roster.OpRemove, Kind: "permission", Name: p.Name}, o.deletePermission(p.Name, &out)
		}); err != nil {
			return err
		}
	}
	projects, err := o.tx.ListProjects(o.ctx, 0)
	if err != nil {
		return err
	}
	mine, err := o.mine()
	if err != nil {
		return err
	}
	for _, p := range projects {
		// A project the actor cannot see is not theirs to prune: to them
		// it does not exist.
		if keptProjects[p.Slug] || (!o.seesAll() && !mine[p.Slug]) {
			continue
		}
		if err := b.step(0, func() (*roster.Change, error) {
			var out roster.Project
			return &roster.Change{Op: roster.OpRemove, Kind: "project", Name: p.Slug}, o.deleteProject(p.Slug, &out)
		}); err != nil {
			return err
		}
	}
	return nil
}

func (s *service) Export(ctx context.Context, fn func(roster.UserRecord) error) error {
	// Many transactions, over as long as the reader takes: each looks the
	// actor up again, so a user deactivated meanwhile stops at once (R8).
	s = s.resolving()
	f := roster.UserFilter{Limit: roster.MaxPageSize}
	progress, done, total := roster.ProgressOf(ctx), 0, 0
	if roster.Watched(ctx) {
		total = s.exportTotal(ctx)
	}
	for {
		// A read per page: a slow reader never holds a transaction open
		// for the whole store, and memory holds one page.
		page, err := s.ListUsers(ctx, f)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		for _, u := range page.Items {
			if err := fn(exportRecord(u)); err != nil {
				return err
			}
		}
		done += len(page.Items)
		progress("exporting", done, total)
		if page.Next == "" {
			return nil
		}
		f.After = page.Next
	}
}

// exportTotal counts the users an export will write, for its progress
// line: every user, for an actor who may see users; 0 when unknown.
func (s *service) exportTotal(ctx context.Context) int {
	n := 0
	_ = s.read(ctx, func(o *op) error {
		if o.require(roster.PermUsersView) != nil {
			return nil
		}
		var err error
		n, err = o.tx.UserCount(o.ctx)
		return err
	})
	return n
}

// exportRecord is u as export writes it, with its expiry. Expired is
// read, never stored, nor declared in a file: an expired account is
// written without a status, and its expiry, already past, makes it read
// back expired (imported, it is active and expired).
func exportRecord(u roster.User) roster.UserRecord {
	rec := roster.UserRecord{Email: u.Email, Name: u.Name, Username: u.Username, Roles: u.Roles,
		Projects: u.Projects, Links: u.Links, Status: u.Status}
	if u.Status == roster.StatusExpired {
		rec.Status = ""
	}
	if u.Service() {
		rec.Kind = roster.KindService
	}
	if u.ExpiresAt != nil {
		rec.Expires = u.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	return rec
}

// expiryText is an expiry as a plan shows it.
func expiryText(at *time.Time) string {
	if at == nil {
		return "never"
	}
	return at.UTC().Format(time.RFC3339)
}
