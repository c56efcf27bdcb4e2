package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
	"github.com/roster-dev/roster/internal/store/storetest"
)

// asking is a store that says when a request marked with askKey asks for
// a write transaction, before it waits for the write lock.
type asking struct {
	store.Admin
	asked chan struct{}
}

type askKey struct{}

func (s *asking) Write(ctx context.Context, fn func(store.Tx) error) error {
	if ctx.Value(askKey{}) != nil {
		select {
		case s.asked <- struct{}{}:
		default:
		}
	}
	return s.Admin.Write(ctx, fn)
}

// TestRefusedWithoutTheWriteLock (issue 20): a write the actor lacks the
// permission for is refused, with the error and the *.denied event it
// always had, while another transaction holds the write lock: it never
// asks for it. A right lost after that check and before the write is
// still refused by the write's own check.
func TestRefusedWithoutTheWriteLock(t *testing.T) {
	testRefusedWithoutTheWriteLock(t, storetest.SQLite)
}

// TestRefusedWithoutTheWriteLockPostgres: the same with PostgreSQL's
// advisory lock (its serializable mode has no write lock to hold).
func TestRefusedWithoutTheWriteLockPostgres(t *testing.T) {
	pgtest.URL(t) // skips, saying why, when there is no test database
	testRefusedWithoutTheWriteLock(t, storetest.Postgres)
}

func testRefusedWithoutTheWriteLock(t *testing.T, open func(t *testing.T) store.Admin) {
	db := open(t)
	w := &asking{Admin: db, asked: make(chan struct{}, 1)}
	c := core.New(w)
	local := c.As(core.Actor{Name: "local:test"})
	if _, err := local.Init(ctx, roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := local.CreateOrg(ctx, roster.CreateOrg{Slug: "acme", OwnerEmail: "boss@acme.test", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := local.CreateRole(ctx, roster.CreateRole{Name: "auditor", Permissions: []string{roster.PermOrgsView}}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []roster.CreateUser{
		{Email: "member@example.com", Roles: []string{roster.RoleMember}},
		{Email: "adm@example.com", Roles: []string{roster.RoleAdmin}},
		{Email: "demoted@example.com", Roles: []string{roster.RoleAdmin}},
		{Email: "fresh@example.com", Roles: []string{roster.RoleAdmin}, Password: "fresh-password-1", MustChangePassword: true},
		{Email: "reader@example.com", Roles: []string{"auditor"}},
	} {
		if _, err := local.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	authenticate := func(p roster.CreateToken) roster.Service {
		t.Helper()
		tok, err := local.CreateToken(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := c.Authenticate(ctx, tok.Token)
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	scoped := authenticate(roster.CreateToken{User: "adm@example.com", Name: "scoped", Scope: []string{roster.PermUsersView}})
	reader := authenticate(roster.CreateToken{User: "reader@example.com", Name: "reader"})

	// hold takes the write lock and keeps it until then is closed, when
	// it runs fn.
	hold := func(then <-chan struct{}, fn func(store.Tx) error) (done <-chan error) {
		held, result := make(chan struct{}), make(chan error, 1)
		go func() {
			result <- db.Write(ctx, func(tx store.Tx) error {
				close(held)
				<-then
				return fn(tx)
			})
		}()
		<-held
		return result
	}
	setSeats := func(svc roster.Service) <-chan error {
		done := make(chan error, 1)
		go func() {
			_, err := svc.SetSetting(context.WithValue(ctx, askKey{}, true), "seats", "5")
			done <- err
		}()
		return done
	}
	nothing := func(store.Tx) error { return nil }
	// unheld runs call while another transaction holds the write lock,
	// and returns its error; a call that asks for the lock fails the test.
	unheld := func(name string, call func() error) error {
		release := make(chan struct{})
		holder := hold(release, nothing)
		done := make(chan error, 1)
		go func() { done <- call() }()
		var err error
		select {
		case err = <-done:
		case <-w.asked:
			t.Errorf("%s: a refused write asked for the write lock", name)
			close(release)
			err = <-done
		}
		select {
		case <-release:
		default:
			close(release)
		}
		if herr := <-holder; herr != nil {
			t.Fatal(herr)
		}
		return err
	}

	for _, tc := range []struct {
		name string
		svc  roster.Service
		want string // in the error
	}{
		{"a member", c.As(core.Actor{User: "member@example.com"}), "member@example.com lacks the settings.manage permission"},
		{"a scoped token", scoped, "adm@example.com holds settings.manage, but this token's scope leaves it out"},
		{"a password to change (R17)", c.As(core.Actor{User: "fresh@example.com"}), "fresh@example.com must change their password"},
		{"orgs.view in another organisation", core.InOrg(reader, "acme"), "reader@example.com holds orgs.view, which only reads in acme"},
	} {
		err := unheld(tc.name, func() error { return <-setSeats(tc.svc) })
		if !errors.Is(err, roster.ErrForbidden) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want forbidden: %s", tc.name, err, tc.want)
		}
	}

	// A member's refused user writes do not ask for the lock either.
	member, asked := c.As(core.Actor{User: "member@example.com"}), context.WithValue(ctx, askKey{}, true)
	for name, call := range map[string]func() error{
		"user create": func() error { return second(member.CreateUser(asked, roster.CreateUser{Email: "x@example.com"})) },
		"deactivate":  func() error { return second(member.DeactivateUser(asked, "adm@example.com", "")) },
		"set-role":    func() error { return second(member.SetRoles(asked, "adm@example.com", []string{"member"})) },
		"set-password": func() error {
			return second(member.SetPassword(asked, "adm@example.com", roster.SetPassword{RandomPassword: true}))
		},
		"delete": func() error { return second(member.DeleteUser(asked, "adm@example.com")) },
	} {
		if err := unheld(name, call); !errors.Is(err, roster.ErrForbidden) {
			t.Errorf("%s by a member: %v, want forbidden", name, err)
		}
	}

	// Rights lost after the token was checked, the write's own check
	// refuses: here the view authentication found still grants them, so
	// the write is asked for at once.
	stale := authenticate(roster.CreateToken{User: "demoted@example.com", Name: "stale"})
	demoted, err := local.GetUser(ctx, "demoted@example.com")
	if err != nil {
		t.Fatal(err)
	}
	demote := make(chan struct{})
	holder := hold(demote, func(tx store.Tx) error {
		return tx.In(store.SystemOrg).SetUserRoles(ctx, demoted.ID, []string{roster.RoleMember})
	})
	done := setSeats(stale)
	<-w.asked // waiting for the lock
	close(demote)
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, roster.ErrForbidden) || !strings.Contains(err.Error(), "demoted@example.com lacks the settings.manage permission") {
		t.Errorf("demoted while waiting for the lock: %v, want forbidden", err)
	}

	// Each refusal made of a missing permission is audited as before.
	c.FlushDenials()
	events, err := local.ListAudit(ctx, roster.AuditFilter{Action: "settings.set.denied", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%s: %s", e.Actor, e.Details["reason"]))
	}
	for _, want := range []string{
		"member@example.com: member@example.com lacks the settings.manage permission",
		"adm@example.com: adm@example.com holds settings.manage, but this token's scope leaves it out",
		"demoted@example.com: demoted@example.com lacks the settings.manage permission",
	} {
		n := 0
		for _, g := range got {
			if g == want {
				n++
			}
		}
		if n != 1 {
			t.Errorf("denial %q recorded %d times, want once; recorded:\n%s", want, n, strings.Join(got, "\n"))
		}
	}
	if len(got) != 3 {
		t.Errorf("denials recorded:\n%s\nwant 3", strings.Join(got, "\n"))
	}
}

// second is the error of a call that also returns a value.
func second[T any](_ T, err error) error { return err }
