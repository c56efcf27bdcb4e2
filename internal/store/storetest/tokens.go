package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

var tokenTests = []test{
	{"InsertToken stores a token that TokenByID and TokenByHash find", []string{"InsertToken", "TokenByID", "TokenByHash"}, testInsertToken},
	{"ListTokens lists a user's tokens or everyone's", []string{"ListTokens"}, testListTokens},
	{"RevokeTokens revokes a user's live tokens or one token", []string{"RevokeTokens"}, testRevokeTokens},
	{"TouchToken records a use and its address at most once a minute", []string{"TouchToken"}, testTouchToken},
	{"SetTokenScope stores a scope that reads back, and clears it", []string{"SetTokenScope", "ListTokens", "TokenUser"}, testTokenScope},
	{"ReplaceTokenSecret rotates a token", []string{"ReplaceTokenSecret"}, testReplaceTokenSecret},
	{"token ids are never reused", []string{"InsertToken"}, testTokenIDsNotReused},
	{"TokenUser finds a token with its user, roles loaded", []string{"TokenUser"}, testTokenUser},
}

func testTokenUser(t *testing.T, s store.Admin) {
	ctx := t.Context()
	u := member("Ann@Example.com")
	u.Links = map[string]string{"github": "ann"}
	uid := addUser(t, s, u)
	write(t, s, func(tx store.Tx) error {
		return tx.SetUserRoles(ctx, uid, []string{roster.RoleViewer, roster.RoleManager})
	})
	id := addToken(t, s, uid, "ci", t0, ptr(at(time.Hour)))
	var tok store.TokenRow
	var got store.UserRow
	var found bool
	read(t, s, func(tx store.Tx) error {
		var err error
		tok, got, found, err = tx.TokenUser(ctx, []byte("hash-ci"))
		return err
	})
	if !found {
		t.Fatal("TokenUser: not found")
	}
	equal(t, "token", tok, tokenByID(t, s, id))
	var want store.UserRow
	read(t, s, func(tx store.Tx) error {
		var err error
		want, err = tx.UserByRef(ctx, "ann@example.com")
		return err
	})
	equal(t, "user", got, want)
	equal(t, "roles", got.Roles, []string{roster.RoleManager, roster.RoleViewer})
	read(t, s, func(tx store.Tx) error {
		var err error
		_, _, found, err = tx.TokenUser(ctx, []byte("hash-nothing"))
		return err
	})
	if found {
		t.Fatal("TokenUser found a token nobody has")
	}
}

// addToken stores a token whose hash is "hash-"+name and returns its id.
func addToken(t *testing.T, s store.Store, userID int64, name string, created time.Time, expires *time.Time) int64 {
	t.Helper()
	var id int64
	write(t, s, func(tx store.Tx) error {
		var err error
		id, err = tx.InsertToken(t.Context(), userID, name, []byte("hash-"+name), "local:root", created, expires)
		return err
	})
	if id == 0 {
		t.Fatalf("InsertToken(%s) returned id 0", name)
	}
	return id
}

// tokenByID loads a token, failing the test if there is none.
func tokenByID(t *testing.T, s store.Store, id int64) store.TokenRow {
	t.Helper()
	var row store.TokenRow
	var found bool
	read(t, s, func(tx store.Tx) error {
		var err error
		row, found, err = tx.TokenByID(t.Context(), id)
		return err
	})
	if !found {
		t.Fatalf("TokenByID(%d): not found", id)
	}
	return row
}

func testInsertToken(t *testing.T, s store.Admin) {
	uid := addUser(t, s, member("Ann@Example.com"))
	id := addToken(t, s, uid, "ci", t0, ptr(at(90*24*time.Hour)))
	forever := addToken(t, s, uid, "forever", t0, nil)

	got := tokenByID(t, s, id)
	equal(t, "ID", got.ID, id)
	equal(t, "UserID", got.UserID, uid)
	equal(t, "User", got.User, "Ann@Example.com")
	equal(t, "Name", got.Name, "ci")
	sameTime(t, "CreatedAt", got.CreatedAt, t0)
	sameTimePtr(t, "ExpiresAt", got.ExpiresAt, ptr(at(90*24*time.Hour)))
	sameTimePtr(t, "LastUsedAt", got.LastUsedAt, nil)
	equal(t, "Revoked", got.Revoked, false)
	equal(t, "Token", got.Token, "")
	sameTimePtr(t, "ExpiresAt of a token that never expires", tokenByID(t, s, forever).ExpiresAt, nil)

	read(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		byHash, found, err := tx.TokenByHash(ctx, []byte("hash-ci"))
		if err != nil {
			return err
		}
		if !found || byHash.ID != id || byHash.UserID != uid || byHash.User != "Ann@Example.com" {
			t.Errorf("TokenByHash(hash-ci) = %+v, found %v; want token %d", byHash, found, id)
		}
		for _, h := range []string{"hash-c", "hash-ci2", "HASH-CI", ""} {
			if _, found, err := tx.TokenByHash(ctx, []byte(h)); err != nil || found {
				t.Errorf("TokenByHash(%q) found %v, %v", h, found, err)
			}
		}
		if _, found, err := tx.TokenByID(ctx, id+forever+100); err != nil || found {
			t.Errorf("TokenByID of an unknown id found %v, %v", found, err)
		}
		return nil
	})
}

func testListTokens(t *testing.T, s store.Admin) {
	list := func(uid int64) []roster.APIToken {
		var out []roster.APIToken
		read(t, s, func(tx store.Tx) error {
			var err error
			out, err = tx.ListTokens(t.Context(), uid)
			return err
		})
		return out
	}
	if got := list(0); got == nil || len(got) != 0 {
		t.Errorf("ListTokens of a new store = %#v, want an empty list", got)
	}
	uids := addUsers(t, s, "ann@example.com", "bob@example.com", "carol@example.com")
	ann, bob := uids[0], uids[1]
	a1 := addToken(t, s, ann, "a1", t0, nil)
	b1 := addToken(t, s, bob, "b1", at(time.Minute), nil)
	a2 := addToken(t, s, ann, "a2", at(2*time.Minute), ptr(at(time.Hour)))
	write(t, s, func(tx store.Tx) error {
		_, err := tx.RevokeTokens(t.Context(), 0, a1, at(3*time.Minute))
		return err
	})
	ids := func(ts []roster.APIToken) []int64 {
		out := []int64{}
		for _, tok := range ts {
			out = append(out, tok.ID)
		}
		return out
	}
	// In the order they were made; revoked tokens are listed.
	all := list(0)
	equal(t, "everyone's tokens", ids(all), []int64{a1, b1, a2})
	equal(t, "ann's tokens", ids(list(ann)), []int64{a1, a2})
	equal(t, "bob's tokens", ids(list(bob)), []int64{b1})
	if got := list(uids[2]); got == nil || len(got) != 0 {
		t.Errorf("ListTokens of a user without = %#v, want an empty list", got)
	}
	if len(all) == 3 {
		equal(t, "User", all[1].User, "bob@example.com")
		equal(t, "Name", all[1].Name, "b1")
		equal(t, "Revoked", all[0].Revoked, true)
		equal(t, "Revoked", all[2].Revoked, false)
		sameTimePtr(t, "ExpiresAt", all[2].ExpiresAt, ptr(at(time.Hour)))
		sameTime(t, "CreatedAt", all[1].CreatedAt, at(time.Minute))
	}
}

func testRevokeTokens(t *testing.T, s store.Admin) {
	uids := addUsers(t, s, "ann@example.com", "bob@example.com")
	ann, bob := uids[0], uids[1]
	a1 := addToken(t, s, ann, "a1", t0, nil)
	a2 := addToken(t, s, ann, "a2", t0, nil)
	a3 := addToken(t, s, ann, "a3", t0, nil)
	b1 := addToken(t, s, bob, "b1", t0, nil)
	revoke := func(uid, id int64) int {
		var n int
		write(t, s, func(tx store.Tx) error {
			var err error
			n, err = tx.RevokeTokens(t.Context(), uid, id, at(time.Minute))
			return err
		})
		return n
	}
	equal(t, "one token revoked", revoke(0, a2), 1)
	equal(t, "a2 revoked", tokenByID(t, s, a2).Revoked, true)
	equal(t, "a1 revoked", tokenByID(t, s, a1).Revoked, false)
	equal(t, "the same token revoked again", revoke(0, a2), 0)
	// Every live token of a user: the one already revoked does not count.
	equal(t, "ann's tokens revoked", revoke(ann, 0), 2)
	for _, id := range []int64{a1, a2, a3} {
		equal(t, "revoked", tokenByID(t, s, id).Revoked, true)
	}
	equal(t, "b1 revoked", tokenByID(t, s, b1).Revoked, false)
	equal(t, "ann's tokens revoked again", revoke(ann, 0), 0)
	equal(t, "an unknown token revoked", revoke(0, b1+100), 0)
	// A revoked token is still found: the core tells it from an unknown one.
	read(t, s, func(tx store.Tx) error {
		row, found, err := tx.TokenByHash(t.Context(), []byte("hash-a1"))
		if err == nil && (!found || !row.Revoked) {
			t.Errorf("TokenByHash of a revoked token: found %v, revoked %v", found, row.Revoked)
		}
		return err
	})
}

func testTouchToken(t *testing.T, s store.Admin) {
	uid := addUser(t, s, member("ann@example.com"))
	id := addToken(t, s, uid, "ci", t0, nil)
	other := addToken(t, s, uid, "other", t0, nil)
	touch := func(now time.Time, from string) {
		write(t, s, func(tx store.Tx) error { return tx.TouchToken(t.Context(), id, now, from) })
	}
	equal(t, "LastUsedFrom before any use", tokenByID(t, s, id).LastUsedFrom, "")
	touch(at(time.Second), "192.0.2.1")
	sameTimePtr(t, "LastUsedAt after the first use", tokenByID(t, s, id).LastUsedAt, ptr(at(time.Second)))
	equal(t, "LastUsedFrom after the first use", tokenByID(t, s, id).LastUsedFrom, "192.0.2.1")
	sameTimePtr(t, "LastUsedAt of another token", tokenByID(t, s, other).LastUsedAt, nil)
	touch(at(30*time.Second), "192.0.2.2")
	sameTimePtr(t, "LastUsedAt after a use within a minute", tokenByID(t, s, id).LastUsedAt, ptr(at(time.Second)))
	equal(t, "LastUsedFrom after a use within a minute", tokenByID(t, s, id).LastUsedFrom, "192.0.2.1")
	touch(at(2*time.Minute), "2001:db8::1")
	sameTimePtr(t, "LastUsedAt after a use minutes later", tokenByID(t, s, id).LastUsedAt, ptr(at(2*time.Minute)))
	equal(t, "LastUsedFrom after a use minutes later", tokenByID(t, s, id).LastUsedFrom, "2001:db8::1")
	// A rotated token has not been used yet, from anywhere.
	write(t, s, func(tx store.Tx) error {
		return tx.ReplaceTokenSecret(t.Context(), id, []byte("hash-rotated"), at(3*time.Minute), nil)
	})
	equal(t, "LastUsedFrom after rotation", tokenByID(t, s, id).LastUsedFrom, "")
}

func testTokenScope(t *testing.T, s store.Admin) {
	uid := addUser(t, s, member("ann@example.com"))
	id := addToken(t, s, uid, "ci", t0, nil)
	other := addToken(t, s, uid, "other", t0, nil)
	scope := []string{"invoices.manage", "users.create", "users.view"}
	if got := tokenByID(t, s, id).Scope; got != nil {
		t.Errorf("Scope of a new token = %q, want nil", got)
	}
	write(t, s, func(tx store.Tx) error { return tx.SetTokenScope(t.Context(), id, scope) })
	equal(t, "Scope", strings.Join(tokenByID(t, s, id).Scope, ","), strings.Join(scope, ","))
	if got := tokenByID(t, s, other).Scope; got != nil {
		t.Errorf("Scope of another token = %q, want nil", got)
	}
	read(t, s, func(tx store.Tx) error {
		list, err := tx.ListTokens(t.Context(), uid)
		if err == nil && (len(list) != 2 || strings.Join(list[0].Scope, ",") != strings.Join(scope, ",") || list[1].Scope != nil) {
			t.Errorf("ListTokens scopes = %q, %q", list[0].Scope, list[1].Scope)
		}
		if err != nil {
			return err
		}
		tok, _, found, err := tx.TokenUser(t.Context(), []byte("hash-ci"))
		if err == nil && (!found || strings.Join(tok.Scope, ",") != strings.Join(scope, ",")) {
			t.Errorf("TokenUser scope = %q (found %v)", tok.Scope, found)
		}
		return err
	})
	write(t, s, func(tx store.Tx) error { return tx.SetTokenScope(t.Context(), id, nil) })
	if got := tokenByID(t, s, id).Scope; got != nil {
		t.Errorf("Scope after clearing = %q, want nil", got)
	}
}

func testReplaceTokenSecret(t *testing.T, s store.Admin) {
	uid := addUser(t, s, member("ann@example.com"))
	id := addToken(t, s, uid, "ci", t0, ptr(at(time.Hour)))
	write(t, s, func(tx store.Tx) error { return tx.TouchToken(t.Context(), id, at(time.Minute), "") })
	write(t, s, func(tx store.Tx) error {
		return tx.ReplaceTokenSecret(t.Context(), id, []byte("hash-rotated"), at(10*time.Minute), ptr(at(48*time.Hour)))
	})
	got := tokenByID(t, s, id)
	equal(t, "Name", got.Name, "ci")
	equal(t, "UserID", got.UserID, uid)
	sameTime(t, "CreatedAt", got.CreatedAt, at(10*time.Minute))
	sameTimePtr(t, "ExpiresAt", got.ExpiresAt, ptr(at(48*time.Hour)))
	sameTimePtr(t, "LastUsedAt", got.LastUsedAt, nil)
	read(t, s, func(tx store.Tx) error {
		if _, found, err := tx.TokenByHash(t.Context(), []byte("hash-ci")); err != nil || found {
			t.Errorf("the old secret is still found: %v, %v", found, err)
		}
		row, found, err := tx.TokenByHash(t.Context(), []byte("hash-rotated"))
		if err == nil && (!found || row.ID != id) {
			t.Errorf("TokenByHash of the new secret = %d (found %v), want %d", row.ID, found, id)
		}
		return err
	})
	// A rotated token may be made to never expire.
	write(t, s, func(tx store.Tx) error {
		return tx.ReplaceTokenSecret(t.Context(), id, []byte("hash-rotated-2"), at(20*time.Minute), nil)
	})
	sameTimePtr(t, "ExpiresAt", tokenByID(t, s, id).ExpiresAt, nil)
}

func testTokenIDsNotReused(t *testing.T, s store.Admin) {
	uids := addUsers(t, s, "ann@example.com", "bob@example.com")
	first := addToken(t, s, uids[0], "a", t0, nil)
	last := addToken(t, s, uids[1], "b", t0, nil)
	// Audit events name tokens by id (via token:ID): a new token must not
	// take the id of a deleted one.
	write(t, s, func(tx store.Tx) error { return tx.DeleteUser(t.Context(), uids[1]) })
	next := addToken(t, s, uids[0], "c", t0, nil)
	if next == last || next == first {
		t.Errorf("new token got id %d, which a token had before (%d, %d)", next, first, last)
	}
}
