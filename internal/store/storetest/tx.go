package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

var txTests = []test{
	{"a Write sees its own changes before it commits", []string{"InsertUser", "UserByRef"}, testReadOwnWrites},
	{"an error from a Write's function undoes all it wrote", nil, testRollback},
	{"errors from the function come out of Write and Read as they were", nil, testErrorsPassThrough},
	{"a Read does not see what a Write has not committed", []string{"EmailTaken", "UserCount"}, testReadIsolation},
	{"a Write with a cancelled context changes nothing", nil, testCancelledWrite},
	{"a Read keeps nothing it writes", []string{"SetSetting"}, testReadKeepsNothing},
	{"a Lookup runs one read statement and sees what is committed", []string{"TokenUser"}, testLookup},
}

func testLookup(t *testing.T, s store.Admin) {
	uid := addUser(t, s, member("ann@example.com"))
	addToken(t, s, uid, "cli", time.Now().UTC(), nil)
	var u store.UserRow
	var found bool
	err := s.Lookup(t.Context(), func(tx store.Tx) error {
		var err error
		_, u, found, err = tx.TokenUser(t.Context(), []byte("hash-cli"))
		return err
	})
	if err != nil || !found || u.ID != uid || u.Email != "ann@example.com" {
		t.Fatalf("Lookup of a token: found %v, user %d %q, %v; want ann's", found, u.ID, u.Email, err)
	}
	sentinel := errors.New("from the function")
	if err := s.Lookup(t.Context(), func(store.Tx) error { return sentinel }); !errors.Is(err, sentinel) {
		t.Fatalf("Lookup returned %v; want the function's error", err)
	}
}

func testReadOwnWrites(t *testing.T, s store.Admin) {
	write(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		id, err := tx.InsertUser(ctx, member("ann@example.com"))
		if err != nil {
			return err
		}
		u, err := tx.UserByRef(ctx, "ann@example.com")
		if err != nil {
			return fmt.Errorf("reading the user back in its transaction: %w", err)
		}
		equal(t, "ID", u.ID, id)
		equal(t, "Roles", u.Roles, []string{roster.RoleMember})
		if taken, err := tx.EmailTaken(ctx, "ANN@example.com"); err != nil || taken != id {
			t.Errorf("EmailTaken in the same transaction = %d, %v; want %d", taken, err, id)
		}
		return nil
	})
}

func testRollback(t *testing.T, s store.Admin) {
	ids := addUsers(t, s, "ann@example.com", "bob@example.com")
	ann, bob := ids[0], ids[1]
	pid := addProject(t, s, "apollo", "Apollo")
	tid := addToken(t, s, ann, "ci", t0, nil)
	lid := addLink(t, s, newLink(store.LinkInvite, bob, "inv", t0, time.Hour))
	write(t, s, func(tx store.Tx) error { return tx.SetSetting(t.Context(), "seats", "5") })

	boom := errors.New("boom")
	err := s.Write(t.Context(), func(tx store.Tx) error {
		ctx := t.Context()
		steps := []func() error{
			func() error { _, err := tx.InsertUser(ctx, member("carol@example.com")); return err },
			func() error {
				u, err := tx.UserByRef(ctx, byID(ann))
				if err != nil {
					return err
				}
				u.Name, u.Status = "Changed", roster.StatusDeactivated
				return tx.UpdateUser(ctx, u)
			},
			func() error { return tx.SetUserRoles(ctx, ann, []string{roster.RoleOwner}) },
			func() error { return tx.SetLink(ctx, ann, "github", "ann-gh") },
			func() error { return tx.DeleteUser(ctx, bob) },
			func() error { _, err := tx.InsertProject(ctx, roster.Project{Slug: "gemini"}, t0); return err },
			func() error { _, err := tx.AddMember(ctx, pid, ann, t0); return err },
			func() error { _, err := tx.RevokeTokens(ctx, ann, 0, t0); return err },
			func() error { return tx.SetSetting(ctx, "seats", "99") },
			func() error { return tx.InsertAudit(ctx, event(t0, "local:root", "user.create", "carol@example.com")) },
			func() error {
				return tx.InsertRole(ctx, roster.Role{Name: "support", Permissions: []string{roster.PermUsersView}})
			},
		}
		for i, step := range steps {
			if err := step(); err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write returned %v, want the function's error", err)
	}
	read(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		if n, err := tx.UserCount(ctx); err != nil || n != 2 {
			t.Errorf("UserCount = %d, %v; want 2", n, err)
		}
		if id, err := tx.EmailTaken(ctx, "carol@example.com"); err != nil || id != 0 {
			t.Errorf("the user inserted by the undone write is there: %d, %v", id, err)
		}
		u, err := tx.UserByRef(ctx, byID(ann))
		if err != nil {
			return err
		}
		equal(t, "Name", u.Name, "")
		equal(t, "Status", u.Status, roster.StatusActive)
		equal(t, "Roles", u.Roles, []string{roster.RoleMember})
		equal(t, "Links", u.Links, map[string]string{})
		equal(t, "Projects", u.Projects, []string{})
		if _, err := tx.UserByRef(ctx, byID(bob)); err != nil {
			t.Errorf("the user deleted by the undone write is gone: %v", err)
		}
		if l, found, err := tx.LinkByHash(ctx, store.LinkInvite, []byte("sha256-of-inv")); err != nil || !found || l.ID != lid {
			t.Errorf("the invitation of the user deleted by the undone write is gone: %v, %v", found, err)
		}
		if _, found, err := tx.ProjectBySlug(ctx, "gemini"); err != nil || found {
			t.Errorf("the project inserted by the undone write is there: %v, %v", found, err)
		}
		if tok, _, err := tx.TokenByID(ctx, tid); err != nil || tok.Revoked {
			t.Errorf("the token revoked by the undone write is revoked: %v, %v", tok.Revoked, err)
		}
		set, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		equal(t, "seats", set["seats"], "5")
		events, err := tx.ListAudit(ctx, store.AuditQuery{Limit: 10})
		if err != nil {
			return err
		}
		equal(t, "audit events", len(events), 0)
		cat, err := tx.LoadCatalog(ctx)
		if err != nil {
			return err
		}
		if _, ok := cat.Roles["support"]; ok {
			t.Error("the role inserted by the undone write is there")
		}
		return nil
	})
}

func testErrorsPassThrough(t *testing.T, s store.Admin) {
	forbidden := roster.Errorf(roster.ErrForbidden, "not allowed")
	err := s.Write(t.Context(), func(tx store.Tx) error { return forbidden })
	isKind(t, err, roster.ErrForbidden, "Write")
	err = s.Read(t.Context(), func(tx store.Tx) error { return forbidden })
	isKind(t, err, roster.ErrForbidden, "Read")
	err = s.Read(t.Context(), func(tx store.Tx) error {
		_, err := tx.UserByRef(t.Context(), "nobody@example.com")
		return err
	})
	isKind(t, err, roster.ErrNotFound, "Read of an unknown user")
	err = s.Write(t.Context(), func(tx store.Tx) error {
		return fmt.Errorf("wrapped: %w", roster.Errorf(roster.ErrConflict, "seat limit reached"))
	})
	isKind(t, err, roster.ErrConflict, "Write")
	// After failed transactions the store still works.
	addUsers(t, s, "ann@example.com")
}

func testReadIsolation(t *testing.T, s store.Admin) {
	addUsers(t, s, "ann@example.com")
	inserted, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Write(context.Background(), func(tx store.Tx) error {
			if _, err := tx.InsertUser(context.Background(), member("bob@example.com")); err != nil {
				close(inserted)
				return err
			}
			close(inserted)
			<-release
			return nil
		})
	}()
	<-inserted
	type seen struct {
		id  int64
		n   int
		err error
	}
	got := make(chan seen, 1)
	go func() {
		var v seen
		v.err = s.Read(context.Background(), func(tx store.Tx) error {
			var err error
			if v.id, err = tx.EmailTaken(context.Background(), "bob@example.com"); err != nil {
				return err
			}
			v.n, err = tx.UserCount(context.Background())
			return err
		})
		got <- v
	}()
	// A store whose reads wait for the write is not wrong, only slower:
	// after a while the write commits, and the read may then see it.
	var v seen
	released := false
	select {
	case v = <-got:
	case <-time.After(5 * time.Second):
		t.Log("the Read waited for the Write; letting the Write commit")
		close(release)
		released = true
		v = <-got
	}
	if !released {
		close(release)
	}
	if err := <-done; err != nil {
		t.Fatalf("write: %v", err)
	}
	if v.err != nil {
		t.Fatalf("read: %v", v.err)
	}
	if !released && (v.id != 0 || v.n != 1) {
		t.Errorf("a Read during the Write saw its uncommitted user: EmailTaken %d, UserCount %d", v.id, v.n)
	}
	read(t, s, func(tx store.Tx) error {
		id, err := tx.EmailTaken(t.Context(), "bob@example.com")
		if err == nil && id == 0 {
			t.Error("a Read after the commit does not see the user")
		}
		return err
	})
}

func testCancelledWrite(t *testing.T, s store.Admin) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	err := s.Write(ctx, func(tx store.Tx) error {
		ran = true
		_, err := tx.InsertUser(ctx, member("ann@example.com"))
		return err
	})
	if err == nil {
		t.Errorf("Write with a cancelled context succeeded (its function ran: %v)", ran)
	}
	read(t, s, func(tx store.Tx) error {
		n, err := tx.UserCount(t.Context())
		equal(t, "UserCount", n, 0)
		return err
	})
}

func testReadKeepsNothing(t *testing.T, s store.Admin) {
	// The core never writes in a Read; a store may refuse it, and must not
	// keep it.
	err := s.Read(t.Context(), func(tx store.Tx) error { return tx.SetSetting(t.Context(), "seats", "7") })
	read(t, s, func(tx store.Tx) error {
		set, rerr := tx.Settings(t.Context())
		if v, ok := set["seats"]; ok {
			t.Errorf("a Read's SetSetting (which returned %v) was kept: seats = %q", err, v)
		}
		return rerr
	})
	// The store still takes writes.
	write(t, s, func(tx store.Tx) error { return tx.SetSetting(t.Context(), "seats", "8") })
}
