package records

import (
	"bytes"
	"errors"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
)

// checkRead is what every reader must do with any input: not panic, and
// report what is wrong as bad lines of kind invalid, never as a failure
// to read (the input is all in memory).
func checkRead(t *testing.T, bad *Errors, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("read error on in-memory input: %v", err)
	}
	if e := bad.Err("import", roster.ErrInvalid); e != nil && !errors.Is(e, roster.ErrInvalid) {
		t.Fatalf("bad lines are not invalid input: %v", e)
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("email,name,roles,projects,links,status\nalice@example.com,Alice,admin;member,web,github=alice,active\n"))
	f.Add([]byte("email,shoe\n"))
	f.Add([]byte("email\n\"broken\n"))
	f.Add([]byte("email,password_hash\nb@example.com,$2b$10$abcdefghijklmnopqrstuv\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, bad, err := ReadUsers(bytes.NewReader(b), "csv")
		checkRead(t, bad, err)
	})
}

func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(`{"email":"a@example.com","roles":["admin"],"links":{"github":"a"}}` + "\n"))
	f.Add([]byte(`{"email":1}` + "\n" + `[]` + "\n"))
	f.Add([]byte("{\"email\":\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, bad, err := ReadUsers(bytes.NewReader(b), "jsonl")
		checkRead(t, bad, err)
	})
}

func FuzzReadManifest(f *testing.F) {
	f.Add([]byte("permissions: [{name: invoices.view}]\nroles: [{name: billing, permissions: [invoices.view]}]\nprojects: [{slug: web}]\nusers:\n- {email: a@example.com, roles: [admin]}\n"))
	f.Add([]byte("users:\n- email: a@example.com\n  shoe: 1\n"))
	f.Add([]byte("{\"users\": [{\"email\": \"x\"}]}"))
	f.Add([]byte("a: b\n---\nc: d\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, bad, err := ReadManifest(bytes.NewReader(b))
		checkRead(t, bad, err)
	})
}
