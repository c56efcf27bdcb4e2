package storetest

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

var projectTests = []test{
	{"InsertProject stores a project that ProjectBySlug finds", []string{"InsertProject", "ProjectBySlug"}, testInsertProject},
	{"ListProjects lists by slug, all or a user's", []string{"ListProjects"}, testListProjects},
	{"UpdateProject renames and archives", []string{"UpdateProject"}, testUpdateProject},
	{"AddMember, IsMember and RemoveMember", []string{"AddMember", "IsMember", "RemoveMember"}, testMembership},
	{"Members lists a project's members by email", []string{"Members"}, testMembers},
	{"DeleteProject removes the project and its memberships", []string{"DeleteProject"}, testDeleteProject},
}

// addProject stores a project in its own transaction and returns its id.
func addProject(t *testing.T, s store.Store, slug, name string) int64 {
	t.Helper()
	var id int64
	write(t, s, func(tx store.Tx) error {
		var err error
		id, err = tx.InsertProject(t.Context(), roster.Project{Slug: slug, Name: name}, t0)
		return err
	})
	if id == 0 {
		t.Fatalf("InsertProject(%s) returned id 0", slug)
	}
	return id
}

// project loads a project, failing the test if there is none.
func project(t *testing.T, s store.Store, slug string) store.ProjectRow {
	t.Helper()
	var p store.ProjectRow
	var found bool
	read(t, s, func(tx store.Tx) error {
		var err error
		p, found, err = tx.ProjectBySlug(t.Context(), slug)
		return err
	})
	if !found {
		t.Fatalf("ProjectBySlug(%s): not found", slug)
	}
	return p
}

// join adds memberships in one transaction.
func join(t *testing.T, s store.Store, projectID int64, userIDs ...int64) {
	t.Helper()
	write(t, s, func(tx store.Tx) error {
		for _, uid := range userIDs {
			if _, err := tx.AddMember(t.Context(), projectID, uid, t0); err != nil {
				return err
			}
		}
		return nil
	})
}

func testInsertProject(t *testing.T, s store.Admin) {
	var id int64
	write(t, s, func(tx store.Tx) error {
		var err error
		// The project is made now; a CreatedAt given is not what counts.
		id, err = tx.InsertProject(t.Context(), roster.Project{Slug: "apollo", Name: "Apollo Program", CreatedAt: at(-time.Hour)}, t0)
		return err
	})
	p := project(t, s, "apollo")
	equal(t, "ID", p.ID, id)
	equal(t, "Slug", p.Slug, "apollo")
	equal(t, "Name", p.Name, "Apollo Program")
	equal(t, "Archived", p.Archived, false)
	equal(t, "Members", p.Members, 0)
	sameTime(t, "CreatedAt", p.CreatedAt, t0)

	uids := addUsers(t, s, "a@example.com", "b@example.com")
	join(t, s, id, uids...)
	equal(t, "Members after two joined", project(t, s, "apollo").Members, 2)

	read(t, s, func(tx store.Tx) error {
		for _, slug := range []string{"gemini", "Apollo", "apoll", ""} {
			if _, found, err := tx.ProjectBySlug(t.Context(), slug); err != nil || found {
				t.Errorf("ProjectBySlug(%q) found %v, %v", slug, found, err)
			}
		}
		return nil
	})
}

func testListProjects(t *testing.T, s store.Admin) {
	list := func(memberOf int64) []roster.Project {
		var out []roster.Project
		read(t, s, func(tx store.Tx) error {
			var err error
			out, err = tx.ListProjects(t.Context(), memberOf)
			return err
		})
		return out
	}
	if got := list(0); got == nil || len(got) != 0 {
		t.Errorf("ListProjects of a new store = %#v, want an empty list", got)
	}
	uids := addUsers(t, s, "ann@example.com", "bob@example.com", "carol@example.com")
	gemini := addProject(t, s, "gemini", "Gemini")
	apollo := addProject(t, s, "apollo", "Apollo")
	mercury := addProject(t, s, "mercury", "Mercury")
	addProject(t, s, "artemis", "Artemis")
	join(t, s, gemini, uids[0], uids[1])
	join(t, s, apollo, uids[0])
	join(t, s, mercury, uids[1])
	archived := project(t, s, "mercury")
	archived.Archived = true
	write(t, s, func(tx store.Tx) error { return tx.UpdateProject(t.Context(), archived, at(time.Hour)) })

	slugs := func(ps []roster.Project) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, p.Slug)
		}
		return out
	}
	all := list(0)
	equal(t, "all projects", slugs(all), []string{"apollo", "artemis", "gemini", "mercury"})
	if len(all) == 4 {
		equal(t, "apollo", all[0], roster.Project{Slug: "apollo", Name: "Apollo", Members: 1, CreatedAt: all[0].CreatedAt})
		sameTime(t, "CreatedAt", all[0].CreatedAt, t0)
		equal(t, "gemini members", all[2].Members, 2)
		equal(t, "mercury archived", all[3].Archived, true)
	}
	equal(t, "ann's projects", slugs(list(uids[0])), []string{"apollo", "gemini"})
	// An archived project is still the member's.
	equal(t, "bob's projects", slugs(list(uids[1])), []string{"gemini", "mercury"})
	if got := list(uids[2]); got == nil || len(got) != 0 {
		t.Errorf("projects of a user in none = %#v, want an empty list", got)
	}
	// Members counts every member, not only the user listed for.
	equal(t, "gemini members in bob's list", list(uids[1])[0].Members, 2)
}

func testUpdateProject(t *testing.T, s store.Admin) {
	id := addProject(t, s, "apollo", "Apollo")
	uid := addUser(t, s, member("ann@example.com"))
	join(t, s, id, uid)
	update := func(p store.ProjectRow, now time.Time) {
		write(t, s, func(tx store.Tx) error { return tx.UpdateProject(t.Context(), p, now) })
	}

	p := project(t, s, "apollo")
	p.Slug, p.Name = "apollo-11", "Apollo 11"
	update(p, at(time.Minute))
	read(t, s, func(tx store.Tx) error {
		if _, found, err := tx.ProjectBySlug(t.Context(), "apollo"); err != nil || found {
			t.Errorf("the old slug is still found: %v, %v", found, err)
		}
		return nil
	})
	p = project(t, s, "apollo-11")
	equal(t, "ID after renaming", p.ID, id)
	equal(t, "Name", p.Name, "Apollo 11")
	equal(t, "Archived", p.Archived, false)
	sameTime(t, "CreatedAt", p.CreatedAt, t0)
	// Memberships follow the project, and users see its new slug.
	equal(t, "Members", p.Members, 1)
	equal(t, "ann's projects", getUser(t, s, byID(uid)).Projects, []string{"apollo-11"})

	p.Archived = true
	update(p, at(time.Hour))
	equal(t, "Archived", project(t, s, "apollo-11").Archived, true)
	// Archiving again, or renaming an archived project, keeps it archived.
	p.Name = "Apollo Eleven"
	update(p, at(2*time.Hour))
	p = project(t, s, "apollo-11")
	equal(t, "Archived after renaming", p.Archived, true)
	equal(t, "Name", p.Name, "Apollo Eleven")
	p.Archived = false
	update(p, at(3*time.Hour))
	equal(t, "Archived after unarchiving", project(t, s, "apollo-11").Archived, false)
}

func testMembership(t *testing.T, s store.Admin) {
	apollo := addProject(t, s, "apollo", "")
	gemini := addProject(t, s, "gemini", "")
	uids := addUsers(t, s, "ann@example.com", "bob@example.com")
	ann, bob := uids[0], uids[1]
	write(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		if added, err := tx.AddMember(ctx, apollo, ann, t0); err != nil || !added {
			t.Errorf("AddMember = %v, %v; want true", added, err)
		}
		if added, err := tx.AddMember(ctx, apollo, ann, at(time.Minute)); err != nil || added {
			t.Errorf("AddMember again = %v, %v; want false", added, err)
		}
		if added, err := tx.AddMember(ctx, gemini, bob, t0); err != nil || !added {
			t.Errorf("AddMember = %v, %v; want true", added, err)
		}
		return nil
	})
	read(t, s, func(tx store.Tx) error {
		for _, c := range []struct {
			p, u int64
			want bool
		}{{apollo, ann, true}, {apollo, bob, false}, {gemini, ann, false}, {gemini, bob, true}} {
			if got, err := tx.IsMember(t.Context(), c.p, c.u); err != nil || got != c.want {
				t.Errorf("IsMember(%d, %d) = %v, %v; want %v", c.p, c.u, got, err, c.want)
			}
		}
		return nil
	})
	equal(t, "apollo members", project(t, s, "apollo").Members, 1)
	equal(t, "ann's projects", getUser(t, s, byID(ann)).Projects, []string{"apollo"})
	write(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		if removed, err := tx.RemoveMember(ctx, apollo, ann); err != nil || !removed {
			t.Errorf("RemoveMember = %v, %v; want true", removed, err)
		}
		if removed, err := tx.RemoveMember(ctx, apollo, ann); err != nil || removed {
			t.Errorf("RemoveMember again = %v, %v; want false", removed, err)
		}
		if removed, err := tx.RemoveMember(ctx, apollo, bob); err != nil || removed {
			t.Errorf("RemoveMember of a non-member = %v, %v; want false", removed, err)
		}
		if member, err := tx.IsMember(ctx, apollo, ann); err != nil || member {
			t.Errorf("IsMember after removal = %v, %v", member, err)
		}
		return nil
	})
	equal(t, "ann's projects", getUser(t, s, byID(ann)).Projects, []string{})
	equal(t, "bob's projects", getUser(t, s, byID(bob)).Projects, []string{"gemini"})
}

func testMembers(t *testing.T, s store.Admin) {
	apollo := addProject(t, s, "apollo", "")
	empty := addProject(t, s, "empty", "")
	uids := addUsers(t, s, "Carol@example.com", "ann@example.com", "Bob@example.com", "dave@example.com")
	join(t, s, apollo, uids[0], uids[1], uids[2])
	read(t, s, func(tx store.Tx) error {
		got, err := tx.Members(t.Context(), apollo)
		if err != nil {
			return err
		}
		equal(t, "members", got, []store.Member{
			{ID: uids[1], Email: "ann@example.com"}, {ID: uids[2], Email: "Bob@example.com"}, {ID: uids[0], Email: "Carol@example.com"},
		})
		got, err = tx.Members(t.Context(), empty)
		if err != nil {
			return err
		}
		equal(t, "members of an empty project", len(got), 0)
		return nil
	})
}

func testDeleteProject(t *testing.T, s store.Admin) {
	apollo := addProject(t, s, "apollo", "")
	gemini := addProject(t, s, "gemini", "")
	uids := addUsers(t, s, "ann@example.com", "bob@example.com")
	join(t, s, apollo, uids...)
	join(t, s, gemini, uids[0])
	write(t, s, func(tx store.Tx) error { return tx.DeleteProject(t.Context(), apollo) })
	read(t, s, func(tx store.Tx) error {
		if _, found, err := tx.ProjectBySlug(t.Context(), "apollo"); err != nil || found {
			t.Errorf("ProjectBySlug after delete: found %v, %v", found, err)
		}
		if member, err := tx.IsMember(t.Context(), apollo, uids[0]); err != nil || member {
			t.Errorf("IsMember after delete = %v, %v", member, err)
		}
		return nil
	})
	equal(t, "ann's projects", getUser(t, s, byID(uids[0])).Projects, []string{"gemini"})
	equal(t, "bob's projects", getUser(t, s, byID(uids[1])).Projects, []string{})
	equal(t, "gemini members", project(t, s, "gemini").Members, 1)
	equal(t, "users in apollo", listAll(t, s, roster.UserFilter{Limit: 10, Project: "apollo"}), []string(nil))
	// The slug is free again, for a new, empty project.
	addProject(t, s, "apollo", "")
	equal(t, "members of the new apollo", project(t, s, "apollo").Members, 0)
}
