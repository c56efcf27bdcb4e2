package storetest

import (
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

var pagingTests = []test{
	{"ListUsers returns every user once, in email order, across pages", []string{"ListUsers"}, testListUsersPages},
	{"ListUsers loads roles, links and projects", []string{"ListUsers"}, testListUsersDetails},
	{"ListUsers shows each user as UserByRef reads it", []string{"ListUsers", "UserByRef"}, testListUsersAsUserByRef},
	{"ListUsers filters by status, role and project", []string{"ListUsers"}, testListUsersFilters},
	{"ListUsers searches email, username and name in any letter case", []string{"ListUsers"}, testListUsersSearch},
	{"ListUsers search takes % and _ literally", []string{"ListUsers"}, testListUsersSearchWildcards},
	{"a cursor goes on after its key when that user is gone", []string{"ListUsers"}, testListUsersCursorAfterDelete},
	{"ListUsers refuses a cursor it did not make", []string{"ListUsers"}, testListUsersBadCursor},
}

// pagingEmails sort differently by raw bytes, by a linguistic collation
// and by their lower-case form (roster.EmailKey), the order of a listing.
var pagingEmails = []string{
	"alice@example.com", "Bob@example.com", "bob.smith@example.com", "bobsmith@example.com", "bob-smith@example.com",
	"bob_smith@example.com", "bob+tag@example.com", "Bo@example.com", "b1@example.com", "B2@example.com",
	"zara@example.com", "Zed@example.com", "Émile@example.com", "eve@example.com", "ève@example.com",
	"carol@example.org", "carol@example.com", "CAROL.X@example.com", "dave@example.com", "d@example.com",
	"a@example.com", "aa@example.com", "0@example.com",
}

// emailOrder sorts emails as a listing must: by roster.EmailKey, byte
// by byte.
func emailOrder(emails []string) []string {
	out := slices.Clone(emails)
	sort.Slice(out, func(i, j int) bool { return roster.EmailKey(out[i]) < roster.EmailKey(out[j]) })
	return out
}

// listAll pages through ListUsers with f and returns every email, failing
// if a page is larger than asked or a user appears twice.
func listAll(t *testing.T, s store.Store, f roster.UserFilter) []string {
	t.Helper()
	var out []string
	seen := map[int64]bool{}
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("ListUsers(%+v): no end after %d pages", f, pages)
		}
		var page roster.Page[roster.User]
		read(t, s, func(tx store.Tx) error {
			var err error
			page, err = tx.ListUsers(t.Context(), f)
			return err
		})
		if len(page.Items) > f.Limit {
			t.Fatalf("ListUsers(%+v) returned %d users, more than the limit", f, len(page.Items))
		}
		for _, u := range page.Items {
			if seen[u.ID] {
				t.Errorf("ListUsers(%+v): %s listed twice", f, u.Email)
			}
			seen[u.ID] = true
			out = append(out, u.Email)
		}
		if page.Next == "" {
			return out
		}
		if len(page.Items) == 0 {
			t.Fatalf("ListUsers(%+v): an empty page with a next cursor", f)
		}
		f.After = page.Next
	}
}

func testListUsersPages(t *testing.T, s store.Admin) {
	addUsers(t, s, pagingEmails...)
	want := emailOrder(pagingEmails)
	for _, limit := range []int{1, 2, 5, len(want) - 1, len(want), len(want) + 1, 1000} {
		got := listAll(t, s, roster.UserFilter{Limit: limit})
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: listed\n%q\nwant\n%q", limit, got, want)
		}
	}
	// A page that ends exactly at the last user says nothing follows.
	read(t, s, func(tx store.Tx) error {
		page, err := tx.ListUsers(t.Context(), roster.UserFilter{Limit: len(want)})
		if err != nil {
			return err
		}
		equal(t, "users on a page as large as the store", len(page.Items), len(want))
		equal(t, "Next of the last page", page.Next, "")
		page, err = tx.ListUsers(t.Context(), roster.UserFilter{Limit: 3})
		if err != nil {
			return err
		}
		if page.Next == "" {
			t.Errorf("Next of a first page of 3 out of %d is empty", len(want))
		}
		return nil
	})
	// An empty store lists nothing.
	empty := listAll(t, s, roster.UserFilter{Limit: 5, Status: roster.StatusInvited})
	equal(t, "invited users", len(empty), 0)
}

func testListUsersDetails(t *testing.T, s store.Admin) {
	u := member("ann@example.com")
	u.Username, u.Name = "ann", "Ann Lee"
	u.Roles = []string{roster.RoleViewer, roster.RoleManager}
	u.Links = map[string]string{"github": "ann-gh"}
	id := addUser(t, s, u)
	addUsers(t, s, "bob@example.com")
	write(t, s, func(tx store.Tx) error {
		for _, slug := range []string{"zeta", "alpha"} {
			pid, err := tx.InsertProject(t.Context(), roster.Project{Slug: slug}, t0)
			if err != nil {
				return err
			}
			if _, err := tx.AddMember(t.Context(), pid, id, t0); err != nil {
				return err
			}
		}
		return nil
	})
	var page roster.Page[roster.User]
	read(t, s, func(tx store.Tx) error {
		var err error
		page, err = tx.ListUsers(t.Context(), roster.UserFilter{Limit: 10})
		return err
	})
	if len(page.Items) != 2 {
		t.Fatalf("listed %d users, want 2", len(page.Items))
	}
	ann, bob := page.Items[0], page.Items[1]
	equal(t, "ID", ann.ID, id)
	equal(t, "Username", ann.Username, "ann")
	equal(t, "Name", ann.Name, "Ann Lee")
	equal(t, "Status", ann.Status, roster.StatusActive)
	equal(t, "Roles", ann.Roles, []string{roster.RoleManager, roster.RoleViewer})
	equal(t, "Links", ann.Links, map[string]string{"github": "ann-gh"})
	equal(t, "Projects", ann.Projects, []string{"alpha", "zeta"})
	sameTime(t, "CreatedAt", ann.CreatedAt, t0)
	// Empty, not nil: they are printed as [] and {}.
	equal(t, "Links of a user without", bob.Links, map[string]string{})
	equal(t, "Projects of a user without", bob.Projects, []string{})
}

// testListUsersAsUserByRef guards a page's own, narrower columns: every
// field of roster.User, set and unset, as UserByRef reads it.
func testListUsersAsUserByRef(t *testing.T, s store.Admin) {
	full := member("ann@example.com")
	full.Username, full.Name, full.MustChangePassword = "ann", "Ann Lee", true
	full.Roles = []string{roster.RoleViewer, roster.RoleManager}
	full.Links = map[string]string{"github": "ann-gh", "okta": "ann@corp"}
	full.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
	full.ExpiresAt = ptr(at(time.Hour))
	svc := member("")
	svc.Kind, svc.Username, svc.Roles = roster.KindService, "ci-bot", []string{roster.RoleViewer}
	ids := []int64{addUser(t, s, full), addUser(t, s, member("bob@example.com")), addUser(t, s, svc)}
	gone := member("carol@example.com")
	gone.ID = addUser(t, s, gone)
	gone.Status, gone.Reason, gone.StatusBefore = roster.StatusDeactivated, "left", roster.StatusActive
	gone.DeactivatedAt, gone.LastLoginAt, gone.LastLoginMethod = ptr(at(2*time.Second)), ptr(at(time.Second)), "password"
	gone.UpdatedAt = at(2 * time.Second)
	write(t, s, func(tx store.Tx) error {
		pid, err := tx.InsertProject(t.Context(), roster.Project{Slug: "alpha"}, t0)
		if err == nil {
			_, err = tx.AddMember(t.Context(), pid, ids[0], t0)
		}
		if err == nil {
			err = tx.UpdateUser(t.Context(), gone)
		}
		return err
	})
	ids = append(ids, gone.ID)
	var page roster.Page[roster.User]
	read(t, s, func(tx store.Tx) error {
		var err error
		page, err = tx.ListUsers(t.Context(), roster.UserFilter{Limit: 10, Now: t0})
		return err
	})
	equal(t, "users listed", len(page.Items), len(ids))
	for _, got := range page.Items {
		want := getUser(t, s, byID(got.ID)).User
		equal(t, "listed "+want.Handle(), got, want)
	}
}

func testListUsersFilters(t *testing.T, s store.Admin) {
	mk := func(email string, status roster.Status, roles ...string) int64 {
		u := member(email)
		u.Status, u.Roles = status, roles
		return addUser(t, s, u)
	}
	a := mk("a@example.com", roster.StatusActive, roster.RoleAdmin, roster.RoleMember)
	b := mk("b@example.com", roster.StatusInvited, roster.RoleMember)
	mk("c@example.com", roster.StatusDeactivated, roster.RoleViewer)
	d := mk("d@example.com", roster.StatusActive, roster.RoleMember)
	mk("e@example.com", roster.StatusActive, roster.RoleViewer)
	f := mk("f@example.com", roster.StatusDeactivated, roster.RoleMember)
	write(t, s, func(tx store.Tx) error {
		apollo, err := tx.InsertProject(t.Context(), roster.Project{Slug: "apollo"}, t0)
		if err != nil {
			return err
		}
		gemini, err := tx.InsertProject(t.Context(), roster.Project{Slug: "gemini"}, t0)
		if err != nil {
			return err
		}
		for _, m := range [][2]int64{{apollo, a}, {apollo, b}, {apollo, f}, {gemini, d}, {gemini, a}} {
			if _, err := tx.AddMember(t.Context(), m[0], m[1], t0); err != nil {
				return err
			}
		}
		return nil
	})
	for _, c := range []struct {
		f    roster.UserFilter
		want []string
	}{
		{roster.UserFilter{Status: roster.StatusActive}, []string{"a@example.com", "d@example.com", "e@example.com"}},
		{roster.UserFilter{Status: roster.StatusInvited}, []string{"b@example.com"}},
		{roster.UserFilter{Status: roster.StatusDeactivated}, []string{"c@example.com", "f@example.com"}},
		{roster.UserFilter{Role: roster.RoleMember}, []string{"a@example.com", "b@example.com", "d@example.com", "f@example.com"}},
		{roster.UserFilter{Role: roster.RoleOwner}, nil},
		{roster.UserFilter{Project: "apollo"}, []string{"a@example.com", "b@example.com", "f@example.com"}},
		{roster.UserFilter{Project: "gemini"}, []string{"a@example.com", "d@example.com"}},
		{roster.UserFilter{Role: roster.RoleMember, Status: roster.StatusActive}, []string{"a@example.com", "d@example.com"}},
		{roster.UserFilter{Project: "apollo", Status: roster.StatusDeactivated}, []string{"f@example.com"}},
		{roster.UserFilter{Project: "apollo", Role: roster.RoleMember, Status: roster.StatusActive}, []string{"a@example.com"}},
		{roster.UserFilter{Project: "gemini", Search: "d@"}, []string{"d@example.com"}},
	} {
		for _, limit := range []int{1, 2, 50} {
			f := c.f
			f.Limit = limit
			if got := listAll(t, s, f); !slices.Equal(got, c.want) {
				t.Errorf("ListUsers(%+v) = %q, want %q", f, got, c.want)
			}
		}
	}
}

func testListUsersSearch(t *testing.T, s store.Admin) {
	mk := func(email, username, name string) {
		u := member(email)
		u.Username, u.Name = username, name
		addUser(t, s, u)
	}
	mk("emile.z@example.com", "ez", "Émile Zola")
	mk("ann@example.com", "AnnL", "Ann Lee")
	mk("Ørsted@Example.dk", "", "")
	mk("bob@example.org", "", "Bob STRAẞE")
	mk("carol@example.com", "carol", "Carol")
	for _, c := range []struct {
		search string
		want   []string
	}{
		// Names are searched in any letter case, accented letters included.
		{"émile", []string{"emile.z@example.com"}},
		{"ÉMILE", []string{"emile.z@example.com"}},
		{"Émile Zola", []string{"emile.z@example.com"}},
		{"zola", []string{"emile.z@example.com"}},
		// Usernames and emails too.
		{"annl", []string{"ann@example.com"}},
		{"ANN@", []string{"ann@example.com"}},
		{"ørsted", []string{"Ørsted@Example.dk"}},
		{"ØRSTED@EXAMPLE", []string{"Ørsted@Example.dk"}},
		{"example.org", []string{"bob@example.org"}},
		// A substring anywhere.
		{"rol", []string{"carol@example.com"}},
		{"lee", []string{"ann@example.com"}},
		{"example", []string{"ann@example.com", "bob@example.org", "carol@example.com", "emile.z@example.com", "Ørsted@Example.dk"}},
		{"nobody", nil},
	} {
		if got := listAll(t, s, roster.UserFilter{Limit: 2, Search: c.search}); !slices.Equal(got, c.want) {
			t.Errorf("search %q found %q, want %q", c.search, got, c.want)
		}
	}
}

func testListUsersSearchWildcards(t *testing.T, s store.Admin) {
	mk := func(email, name string) {
		u := member(email)
		u.Name = name
		addUser(t, s, u)
	}
	mk("under_score@example.com", "")
	mk("underxscore@example.com", "")
	mk("percent@example.com", "100% sure")
	mk("hundred@example.com", "1000 sure")
	mk("back@example.com", `back\slash`)
	for _, c := range []struct {
		search string
		want   []string
	}{
		{"_", []string{"under_score@example.com"}},
		{"under_score", []string{"under_score@example.com"}},
		{"%", []string{"percent@example.com"}},
		{"100%", []string{"percent@example.com"}},
		{`\`, []string{"back@example.com"}},
		{`k\s`, []string{"back@example.com"}},
	} {
		if got := listAll(t, s, roster.UserFilter{Limit: 10, Search: c.search}); !slices.Equal(got, c.want) {
			t.Errorf("search %q found %q, want %q", c.search, got, c.want)
		}
	}
}

func testListUsersCursorAfterDelete(t *testing.T, s store.Admin) {
	ids := addUsers(t, s, "a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com")
	var first roster.Page[roster.User]
	read(t, s, func(tx store.Tx) error {
		var err error
		first, err = tx.ListUsers(t.Context(), roster.UserFilter{Limit: 2})
		return err
	})
	if len(first.Items) != 2 || first.Next == "" {
		t.Fatalf("first page: %d users, next %q", len(first.Items), first.Next)
	}
	// Paging by key, not by offset: changes before the cursor neither
	// skip nor repeat anyone after it.
	write(t, s, func(tx store.Tx) error {
		if err := tx.DeleteUser(t.Context(), ids[1]); err != nil {
			return err
		}
		if err := tx.DeleteUser(t.Context(), ids[0]); err != nil {
			return err
		}
		_, err := tx.InsertUser(t.Context(), member("aa@example.com"))
		return err
	})
	got := listAll(t, s, roster.UserFilter{Limit: 2, After: first.Next})
	equal(t, "users after the cursor", got, []string{"c@example.com", "d@example.com", "e@example.com"})
}

func testListUsersBadCursor(t *testing.T, s store.Admin) {
	addUsers(t, s, "a@example.com")
	for _, c := range []string{"not a cursor", "bm90IGEgY3Vyc29y", "%%%"} {
		err := s.Read(t.Context(), func(tx store.Tx) error {
			_, err := tx.ListUsers(t.Context(), roster.UserFilter{Limit: 5, After: c})
			return err
		})
		isKind(t, err, roster.ErrInvalid, "ListUsers after "+c)
	}
	// A cursor made by store.EncodeCursor works, whatever key it holds.
	read(t, s, func(tx store.Tx) error {
		page, err := tx.ListUsers(t.Context(), roster.UserFilter{Limit: 5, After: store.EncodeCursor("0")})
		equal(t, "users after 0", len(page.Items), 1)
		return err
	})
}
