// Package pgtest gives tests a PostgreSQL store of their own: a fresh
// schema in the database ROSTER_TEST_POSTGRES names, dropped when the test
// ends. Without the variable tests skip, and say so, except under CI=true,
// where they must run.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env is the variable that names the test database, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const Env = "ROSTER_TEST_POSTGRES"

// URL returns the URL of an empty schema made for tb, with search_path set
// to it, and registers its removal (DROP SCHEMA … CASCADE) as tb's cleanup.
func URL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(Env)
	if base == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set, and under CI=true the PostgreSQL tests must run: set it to a database URL such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable", Env)
		}
		tb.Skipf("%s is not set: skipping the PostgreSQL tests (set it to a database URL such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", Env)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: not a URL", Env)
	}
	var b [5]byte
	rand.Read(b[:])
	schema := "roster_test_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{schema}.Sanitize()
	exec(tb, base, "CREATE SCHEMA "+ident)
	tb.Cleanup(func() { exec(tb, base, "DROP SCHEMA IF EXISTS "+ident+" CASCADE") })
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement on its own connection.
func exec(tb testing.TB, dbURL, stmt string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Fatalf("connect to %s (%s): %v", redact(dbURL), Env, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		tb.Fatalf("%s: %v", stmt, err)
	}
}

// redact drops the password of a URL for test logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unreadable URL)"
	}
	return u.Redacted()
}
