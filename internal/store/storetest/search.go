package storetest

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// Search has an index in each adapter (FTS5 trigram, pg_trgm); what it
// finds must stay what a scan finds: the users one of whose email,
// username or name, folded by store.FoldKey, holds the folded search.
func init() {
	pagingTests = append(pagingTests,
		test{"ListUsers search finds what a scan in Go finds, on random users and searches, and nothing of another organisation",
			[]string{"ListUsers", "InsertOrg"}, testListUsersSearchRandom},
		test{"ListUsers search of two characters finds them at a key's start, middle and end, and as a whole key",
			[]string{"ListUsers", "InsertOrg"}, testListUsersSearchShort})
}

// RunSearch runs the conformance tests of search alone: for an adapter
// to run again with its index tuned otherwise (a smaller cap, say).
func RunSearch(t *testing.T, open func(t *testing.T) store.Admin) {
	for _, c := range pagingTests {
		if strings.Contains(c.name, "search") {
			t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
		}
	}
}

// searchAlphabet is what random keys and searches are made of: few
// letters, so that searches of every length find someone; letters that
// fold (upper case, accented, ẞ, the Kelvin sign, which folds to k);
// LIKE's wildcards
// and escape; a space and a double quote (FTS5's query syntax); a
// character of four bytes.
var searchAlphabet = []rune("abcAB.@-_%\\ \"éÉøẞßk\u212a中😀")

func randomText(r *rand.Rand, min, max int) string {
	n := min + r.IntN(max-min+1)
	var b strings.Builder
	for range n {
		b.WriteRune(searchAlphabet[r.IntN(len(searchAlphabet))])
	}
	return b.String()
}

// searchUser is a user as the brute-force search sees it.
type searchUser struct {
	id                    int64
	email, username, name string
	admin, deactivated    bool
}

func (u searchUser) matches(search string) bool {
	s := store.FoldKey(search)
	return strings.Contains(roster.EmailKey(u.email), s) ||
		(u.username != "" && strings.Contains(store.FoldKey(u.username), s)) ||
		strings.Contains(store.FoldKey(u.name), s)
}

func testListUsersSearchRandom(t *testing.T, s store.Admin) {
	r := rand.New(rand.NewPCG(21, uint64(len(t.Name()))))
	users := map[int64]*searchUser{}
	emails := map[string]bool{}
	usernames := map[string]bool{}
	newUser := func(i int) (store.UserRow, *searchUser) {
		for {
			// Emails and usernames are not validated by the store; they
			// are kept unique, in any letter case, as the core keeps them.
			email := randomText(r, 1, 12) + fmt.Sprintf("%d@x", i)
			username := ""
			if r.IntN(2) == 0 {
				username = "u" + randomText(r, 0, 8)
			}
			if emails[roster.EmailKey(email)] || (username != "" && usernames[store.FoldKey(username)]) {
				continue
			}
			emails[roster.EmailKey(email)] = true
			if username != "" {
				usernames[store.FoldKey(username)] = true
			}
			u := member(email)
			u.Username, u.Name = username, randomText(r, 0, 14)
			admin := r.IntN(4) == 0
			if admin {
				u.Roles = []string{roster.RoleAdmin}
			}
			return u, &searchUser{email: email, username: username, name: u.Name, admin: admin}
		}
	}
	// findable fails the test unless a search in org for email finds it,
	// once the write that made it has committed.
	findable := func(org int64, email string) {
		t.Helper()
		readIn(t, s, org, func(tx store.Tx) error {
			page, err := tx.ListUsers(inOrg(t, org), roster.UserFilter{Limit: 50, Search: email})
			if err == nil && !slices.ContainsFunc(page.Items, func(u roster.User) bool { return u.Email == email }) {
				t.Errorf("a search for %q, written in bulk, found %d others, not it", email, len(page.Items))
			}
			return err
		})
	}
	// Users come one at a time and in bulk, and some are then changed
	// or deleted: the index must follow every kind of write.
	const n = 300
	write(t, s, func(tx store.Tx) error {
		var rows []store.UserRow
		var su []*searchUser
		for i := range n / 2 {
			u, x := newUser(i)
			rows = append(rows, u)
			su = append(su, x)
		}
		ids, err := tx.InsertUsers(t.Context(), rows)
		for i, id := range ids {
			su[i].id = id
			users[id] = su[i]
		}
		return err
	})
	findable(store.SystemOrg, users[slices.Max(slices.Collect(maps.Keys(users)))].email)
	for i := n / 2; i < n; i++ {
		u, x := newUser(i)
		x.id = addUser(t, s, u)
		users[x.id] = x
	}
	ids := slices.Sorted(func(yield func(int64) bool) {
		for id := range users {
			if !yield(id) {
				return
			}
		}
	})
	write(t, s, func(tx store.Tx) error {
		for _, id := range ids[:60] {
			u, err := tx.UserByRef(t.Context(), fmt.Sprint(id))
			if err != nil {
				return err
			}
			x := users[id]
			switch id % 3 {
			case 0:
				delete(emails, roster.EmailKey(x.email))
				x.email = randomText(r, 1, 8) + fmt.Sprintf("%d@y", id)
				u.Email = x.email
			case 1:
				x.name = randomText(r, 0, 14)
				u.Name = x.name
			case 2:
				// Unchanged keys: a write of other columns.
				u.Status, x.deactivated = roster.StatusDeactivated, true
			}
			if err := tx.UpdateUser(t.Context(), u); err != nil {
				return err
			}
		}
		for _, id := range ids[60:90] {
			if err := tx.DeleteUser(t.Context(), id); err != nil {
				return err
			}
			delete(users, id)
		}
		return nil
	})

	// In one transaction: users written in bulk, then searched for,
	// changed and deleted, with older ones, and bulk writes before and
	// after a savepoint rolled back. SQLite's index leaves the users of a
	// bulk write to one statement before the next search or the commit
	// (its pause): it must still follow each write.
	var last string
	write(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		bulk := func(from, to int) ([]int64, error) {
			var rows []store.UserRow
			var su []*searchUser
			for i := from; i < to; i++ {
				u, x := newUser(i)
				rows = append(rows, u)
				su = append(su, x)
			}
			added, err := tx.InsertUsers(ctx, rows)
			for i, id := range added {
				su[i].id = id
				users[id] = su[i]
				last = su[i].email
			}
			return added, err
		}
		added, err := bulk(n, n+40)
		if err != nil {
			return err
		}
		for k, id := range append(added[:20:20], ids[90:100]...) {
			x := users[id]
			if k%3 == 2 {
				if err := tx.DeleteUser(ctx, id); err != nil {
					return err
				}
				delete(users, id)
				continue
			}
			u, err := tx.UserByRef(ctx, fmt.Sprint(id))
			if err != nil {
				return err
			}
			if k%3 == 0 {
				delete(emails, roster.EmailKey(x.email))
				x.email = randomText(r, 1, 8) + fmt.Sprintf("%d@z", id)
				u.Email = x.email
			} else {
				x.name = randomText(r, 0, 14)
				u.Name = x.name
			}
			if err := tx.UpdateUser(ctx, u); err != nil {
				return err
			}
		}
		for _, id := range []int64{added[0], added[len(added)-1], ids[91], ids[92]} {
			page, err := tx.ListUsers(ctx, roster.UserFilter{Limit: 50, Search: users[id].email})
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(page.Items, func(u roster.User) bool { return u.Email == users[id].email }) {
				t.Errorf("a search for %q in the transaction that wrote it found %d others, not it", users[id].email, len(page.Items))
			}
		}
		undo := errors.New("undo")
		err = tx.Savepoint(ctx, func(tx store.Tx) error {
			u, _ := newUser(n + 40)
			if _, err := tx.InsertUsers(ctx, []store.UserRow{u}); err != nil {
				return err
			}
			return undo
		})
		if !errors.Is(err, undo) {
			return fmt.Errorf("savepoint: %v", err)
		}
		_, err = bulk(n+41, n+50)
		return err
	})
	findable(store.SystemOrg, last)

	// A neighbour organisation holds a copy of every user, with the same
	// keys, roles and status: each would match wherever its original does,
	// and must never be found (R21). The index holds both organisations'
	// users, so a search's candidates, its window and its scan all pass
	// over the neighbour's. A copy found shows as an email listed twice.
	neighbour := addOrg(t, s, "search-neighbour")
	writeIn(t, s, neighbour, func(tx store.Tx) error {
		var rows []store.UserRow
		for _, id := range slices.Sorted(maps.Keys(users)) {
			x := users[id]
			u := member(x.email)
			u.Username, u.Name = x.username, x.name
			if x.admin {
				u.Roles = []string{roster.RoleAdmin}
			}
			if x.deactivated {
				u.Status = roster.StatusDeactivated
			}
			rows = append(rows, u)
		}
		_, err := tx.InsertUsers(inOrg(t, neighbour), rows)
		return err
	})
	for _, id := range ids[len(ids)-3:] {
		if x, ok := users[id]; ok {
			findable(neighbour, x.email)
		}
	}

	// Searches of every length, most of them cut from a user's key so
	// that they find someone, in another letter case at times.
	keys := func() []string {
		var out []string
		for _, u := range users {
			out = append(out, u.email, u.username, u.name)
		}
		slices.Sort(out)
		return out
	}()
	searches := []string{"%", "_", `\`, `"`, "a", "ab", "abc", "ẞ", "ss", "k", "K", "\u212a", "😀", "中😀", " ", `\%`, `"a"`}
	for range 400 {
		if r.IntN(3) == 0 {
			searches = append(searches, randomText(r, 1, 6))
			continue
		}
		k := []rune(keys[r.IntN(len(keys))])
		if len(k) == 0 {
			continue
		}
		i := r.IntN(len(k))
		j := i + 1 + r.IntN(min(8, len(k)-i))
		q := string(k[i:j])
		if r.IntN(3) == 0 {
			q = strings.ToUpper(q)
		}
		searches = append(searches, q)
	}
	for _, q := range searches {
		// Now and then with a filter by role or status as well.
		f := roster.UserFilter{Limit: 1 + r.IntN(60), Search: q}
		switch r.IntN(6) {
		case 0:
			f.Role = roster.RoleAdmin
		case 1:
			f.Status = roster.StatusDeactivated
		}
		var want []string
		for _, u := range users {
			if u.matches(q) && (f.Role == "" || u.admin) && (f.Status == "" || u.deactivated) {
				want = append(want, u.email)
			}
		}
		want = emailOrder(want)
		if got := listAll(t, s, f); !slices.Equal(got, want) {
			t.Errorf("ListUsers(%+v) found %d users, a scan %d:\n got %q\nwant %q", f, len(got), len(want), got, want)
		}
	}
}

// testListUsersSearchShort: text of two characters has no trigram of its
// own. It is found where it starts a key's trigram, where it ends one (at
// the key's end), and as the whole of a key of two characters, which
// holds no trigram; in a neighbour organisation's copies never.
func testListUsersSearchShort(t *testing.T, s store.Admin) {
	type user struct{ email, username, name string }
	users := []user{
		{"zqa@x", "", ""},  // the email's start
		{"azqb@x", "", ""}, // its middle
		{"a@x", "", "Azq"}, // the name's end
		{"b@x", "zq", ""},  // a username of two characters
		{"c@x", "", "ZQ"},  // a name of two, folded
		{"zq", "", ""},     // an email of two (the store does not check emails)
		{"d@x", "q", "Z"},  // z and q, apart
		{"e@x", "", "zaq"},
		{"f@x", "", "Q Z"},
	}
	neighbour := addOrg(t, s, "short-neighbour")
	for _, org := range []int64{store.SystemOrg, neighbour} {
		writeIn(t, s, org, func(tx store.Tx) error {
			for _, u := range users {
				row := member(u.email)
				row.Username, row.Name = u.username, u.name
				if _, err := tx.InsertUser(inOrg(t, org), row); err != nil {
					return err
				}
			}
			return nil
		})
	}
	want := emailOrder([]string{"zqa@x", "azqb@x", "a@x", "b@x", "c@x", "zq"})
	for _, search := range []string{"zq", "ZQ", "zQ"} {
		for _, limit := range []int{1, 4, 50} {
			f := roster.UserFilter{Limit: limit, Search: search}
			if got := listAll(t, s, f); !slices.Equal(got, want) {
				t.Errorf("ListUsers(%+v) = %q, want %q", f, got, want)
			}
		}
	}
}
