package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// t0 is the suite's clock: a fixed instant with microseconds, in UTC, as
// the core passes times (it truncates its clock to microseconds).
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// at is t0 moved by d.
func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

// write runs fn in a write transaction and fails the test if it fails.
func write(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Write(t.Context(), fn); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// read runs fn in a read transaction and fails the test if it fails.
func read(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Read(t.Context(), fn); err != nil {
		t.Fatalf("read: %v", err)
	}
}

// isKind fails the test unless err is of the domain error kind.
func isKind(t *testing.T, err, kind error, what string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s: got error %v, want one that is %v", what, err, kind)
	}
}

// member is a user row as the core makes one with roster user create: an
// active member with no password.
func member(email string) store.UserRow {
	return store.UserRow{User: roster.User{
		Email: email, Name: "", Status: roster.StatusActive, Roles: []string{roster.RoleMember},
		CreatedAt: t0, UpdatedAt: t0,
	}}
}

// addUser stores u in its own transaction and returns its id.
func addUser(t *testing.T, s store.Store, u store.UserRow) int64 {
	t.Helper()
	var id int64
	write(t, s, func(tx store.Tx) error {
		var err error
		id, err = tx.InsertUser(t.Context(), u)
		return err
	})
	if id == 0 {
		t.Fatalf("InsertUser(%s) returned id 0", u.Email)
	}
	return id
}

// addUsers stores a member for each email and returns their ids.
func addUsers(t *testing.T, s store.Store, emails ...string) []int64 {
	t.Helper()
	ids := make([]int64, len(emails))
	for i, e := range emails {
		ids[i] = addUser(t, s, member(e))
	}
	return ids
}

// getUser loads a user by reference in a read transaction.
func getUser(t *testing.T, s store.Store, ref string) store.UserRow {
	t.Helper()
	var u store.UserRow
	read(t, s, func(tx store.Tx) error {
		var err error
		u, err = tx.UserByRef(t.Context(), ref)
		return err
	})
	return u
}

// byID is a user reference by id.
func byID(id int64) string { return fmt.Sprint(id) }

// equal reports a difference between got and want.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// sameTime reports a difference between two instants.
func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
}

// sameTimePtr reports a difference between two optional instants.
func sameTimePtr(t *testing.T, what string, got, want *time.Time) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s = %v, want %v", what, fmtPtr(got), fmtPtr(want))
	default:
		sameTime(t, what, *got, *want)
	}
}

func fmtPtr(p *time.Time) string {
	if p == nil {
		return "nil"
	}
	return p.Format(time.RFC3339Nano)
}
