package storetest

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// Account expiry (DESIGN.md, "Service accounts, scoped and expiring
// access"): a user's ExpiresAt is stored as given, and what depends on it
// is judged at the instant the caller passes, never by a job.
var expiryTests = []test{
	{"ExpiresAt is written by InsertUser, UpdateUser and InsertUsers and read back", []string{"InsertUser", "UpdateUser", "InsertUsers"}, testExpiresAtStored},
	{"CountActive and CountActiveOwners leave out a user from the instant their account expires", []string{"CountActive", "CountActiveOwners"}, testCountActiveExpiry},
	{"ListUsers filters by status and expiry at the filter's Now", []string{"ListUsers"}, testListUsersExpiry},
}

// expiring is an active member whose account expires at when.
func expiring(email string, when time.Time) store.UserRow {
	u := member(email)
	u.ExpiresAt = &when
	return u
}

func testExpiresAtStored(t *testing.T, s store.Admin) {
	one := addUser(t, s, expiring("one@example.com", at(time.Hour)))
	never := addUser(t, s, member("never@example.com"))
	sameTimePtr(t, "InsertUser's ExpiresAt", getUser(t, s, byID(one)).ExpiresAt, ptr(at(time.Hour)))
	sameTimePtr(t, "InsertUser's ExpiresAt, never", getUser(t, s, byID(never)).ExpiresAt, nil)

	u := getUser(t, s, byID(never))
	u.ExpiresAt = ptr(at(2 * time.Hour))
	write(t, s, func(tx store.Tx) error { return tx.UpdateUser(t.Context(), u) })
	sameTimePtr(t, "UpdateUser set ExpiresAt", getUser(t, s, byID(never)).ExpiresAt, ptr(at(2*time.Hour)))
	u.ExpiresAt = nil
	write(t, s, func(tx store.Tx) error { return tx.UpdateUser(t.Context(), u) })
	sameTimePtr(t, "UpdateUser cleared ExpiresAt", getUser(t, s, byID(never)).ExpiresAt, nil)

	var ids []int64
	write(t, s, func(tx store.Tx) error {
		var err error
		ids, err = tx.InsertUsers(t.Context(), []store.UserRow{expiring("bulk1@example.com", at(3*time.Hour)), member("bulk2@example.com")})
		return err
	})
	sameTimePtr(t, "InsertUsers' ExpiresAt", getUser(t, s, byID(ids[0])).ExpiresAt, ptr(at(3*time.Hour)))
	sameTimePtr(t, "InsertUsers' ExpiresAt, never", getUser(t, s, byID(ids[1])).ExpiresAt, nil)
}

func testCountActiveExpiry(t *testing.T, s store.Admin) {
	always := member("always@example.com")
	always.Roles = []string{roster.RoleOwner}
	addUser(t, s, always)
	contractor := expiring("contractor@example.com", t0)
	contractor.Roles = []string{roster.RoleOwner}
	addUser(t, s, contractor)
	gone := expiring("gone@example.com", at(time.Hour))
	gone.Status = roster.StatusDeactivated
	addUser(t, s, gone)
	for _, c := range []struct {
		now  time.Time
		want int
	}{
		{at(-time.Second), 2},
		{at(-time.Microsecond), 2},
		{t0, 1},
		{at(time.Second), 1},
	} {
		read(t, s, func(tx store.Tx) error {
			n, err := tx.CountActive(t.Context(), c.now)
			equal(t, "CountActive at "+c.now.Sub(t0).String()+" from the expiry", n, c.want)
			if err != nil {
				return err
			}
			n, err = tx.CountActiveOwners(t.Context(), c.now)
			equal(t, "CountActiveOwners at "+c.now.Sub(t0).String()+" from the expiry", n, c.want)
			return err
		})
	}
}

func testListUsersExpiry(t *testing.T, s store.Admin) {
	addUser(t, s, member("always@example.com"))
	addUser(t, s, expiring("soon@example.com", at(10*24*time.Hour)))
	addUser(t, s, expiring("later@example.com", at(60*24*time.Hour)))
	addUser(t, s, expiring("past@example.com", t0))
	invited := expiring("invited@example.com", at(-time.Hour))
	invited.Status = roster.StatusInvited
	addUser(t, s, invited)
	gone := expiring("gone@example.com", at(-time.Hour))
	gone.Status = roster.StatusDeactivated
	addUser(t, s, gone)

	list := func(f roster.UserFilter) []string {
		f.Limit, f.Now = 100, t0
		var emails []string
		read(t, s, func(tx store.Tx) error {
			p, err := tx.ListUsers(t.Context(), f)
			for _, u := range p.Items {
				emails = append(emails, u.Email)
			}
			return err
		})
		return emails
	}
	equal(t, "active", list(roster.UserFilter{Status: roster.StatusActive}),
		[]string{"always@example.com", "later@example.com", "soon@example.com"})
	equal(t, "expired", list(roster.UserFilter{Status: roster.StatusExpired}),
		[]string{"invited@example.com", "past@example.com"})
	equal(t, "invited", list(roster.UserFilter{Status: roster.StatusInvited}), []string(nil))
	equal(t, "deactivated", list(roster.UserFilter{Status: roster.StatusDeactivated}), []string{"gone@example.com"})
	equal(t, "expiring within 30 days", list(roster.UserFilter{Expiring: 30 * 24 * time.Hour}), []string{"soon@example.com"})
	equal(t, "expiring within 90 days", list(roster.UserFilter{Expiring: 90 * 24 * time.Hour}),
		[]string{"later@example.com", "soon@example.com"})
	// One second before the expiry, past@ is still active and expiring.
	read(t, s, func(tx store.Tx) error {
		p, err := tx.ListUsers(t.Context(), roster.UserFilter{Limit: 100, Now: at(-time.Second), Expiring: time.Second})
		if len(p.Items) != 1 || p.Items[0].Email != "past@example.com" {
			t.Errorf("expiring within a second, a second before: %v", p.Items)
		}
		return err
	})
}
