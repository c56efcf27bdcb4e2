package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// dirState is every file of dir with its content, to show that a refused
// open wrote nothing, not even a -wal or -shm beside the file.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			m[e.Name()] = "dir"
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func sameState(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func names(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// rawExec runs statements on path through a plain connection, as another
// program would.
func rawExec(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// header reads the file's 100-byte SQLite header, where other tools
// (file(1), roster's own check) see it.
func header(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 100 {
		t.Fatalf("%s has %d bytes, no SQLite header", path, len(b))
	}
	return b[:100]
}

// headerAppID reads application_id from the file's header.
func headerAppID(t *testing.T, path string) uint32 {
	t.Helper()
	return binary.BigEndian.Uint32(header(t, path)[68:72])
}

// headerPageSize reads the page size from the file's header (1 stands
// for 65,536).
func headerPageSize(t *testing.T, path string) int {
	t.Helper()
	if size := int(binary.BigEndian.Uint16(header(t, path)[16:18])); size != 1 {
		return size
	}
	return 65536
}

// TestRefusesOtherFiles: an existing file that is not a roster store is
// refused as invalid input, named in the message, and left exactly as it
// was: no migration, no WAL, no side files. Before application_id, roster
// added its tables and WAL mode to another program's database and turned
// an empty file into a store.
func TestRefusesOtherFiles(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		make func(t *testing.T, path string)
		want string
	}{
		{"another program's database", func(t *testing.T, path string) {
			rawExec(t, "file:"+path, `CREATE TABLE notes (body TEXT)`, `INSERT INTO notes VALUES ('keep me')`)
		}, "SQLite database of another application"},
		{"another program's database in WAL mode", func(t *testing.T, path string) {
			rawExec(t, "file:"+path, `PRAGMA journal_mode = WAL`, `CREATE TABLE notes (body TEXT)`)
		}, "SQLite database of another application"},
		{"a database with roster's tables but no schema version", func(t *testing.T, path string) {
			rawExec(t, "file:"+path, `CREATE TABLE users (x)`, `CREATE TABLE roles (x)`, `CREATE TABLE user_roles (x)`,
				`CREATE TABLE audit (x)`, `CREATE TABLE settings (x)`)
		}, "SQLite database of another application"},
		{"another application's mark", func(t *testing.T, path string) {
			rawExec(t, "file:"+path, `PRAGMA application_id = 1234`, `CREATE TABLE users (x)`, `PRAGMA user_version = 9`)
		}, "another application (application_id 0x000004d2)"},
		{"an empty file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "it is an empty file"},
		{"not a database", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("name,email\nalice,alice@example.com\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a SQLite database"},
		{"a directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "it is a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "notes.db")
			c.make(t, path)
			before := dirState(t, dir)
			for name, open := range map[string]func(context.Context, string) (*DB, error){"Open": Open, "OpenNoMigrate": OpenNoMigrate} {
				db, err := open(ctx, path)
				if err == nil {
					db.Close()
					t.Fatalf("%s opened it", name)
				}
				if !errors.Is(err, roster.ErrInvalid) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: %v; want invalid input naming %s and saying %q", name, err, path, c.want)
				}
				if roster.Hint(err) == "" {
					t.Errorf("%s: no hint", name)
				}
			}
			if after := dirState(t, dir); !sameState(before, after) {
				t.Errorf("the directory changed: %v, then %v", names(before), names(after))
			}
		})
	}
}

// TestNewStoreMarked: a new store carries roster's application_id from
// the start, in the file itself, and its making leaves no temporary file.
// Its pages are PageSize, from the start and once migrated.
func TestNewStoreMarked(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "roster.db")
	db, err := OpenNoMigrate(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.Version(ctx); err != nil || v != 0 {
		t.Fatalf("new store at version %d, %v; want 0 until migrated", v, err)
	}
	db.Close()
	if id := headerAppID(t, path); id != ApplicationID {
		t.Errorf("application_id %#x, want %#x", id, ApplicationID)
	}
	if size := headerPageSize(t, path); size != PageSize {
		t.Errorf("new store's pages are %d bytes, want %d", size, PageSize)
	}
	// Not migrated, it is still roster's: it opens and migrates.
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var size int
	if err := db.sql.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size); err != nil || size != PageSize {
		t.Errorf("migrated store's pages are %d bytes (%v), want %d", size, err, PageSize)
	}
	db.Close()
	if size := headerPageSize(t, path); size != PageSize {
		t.Errorf("migrated store's header says %d-byte pages, want %d", size, PageSize)
	}
	if got := names(dirState(t, dir)); !slices.Equal(got, []string{"roster.db"}) {
		t.Errorf("files beside the store: %v", got)
	}
}

// TestOldStoreMarked: a store made before roster set application_id (0,
// with user_version > 0 and roster's tables) still opens, and its
// migration marks it.
func TestOldStoreMarked(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roster.db")
	// Version 9 is the last without the mark.
	storeAtVersion(t, path, 9, "").Close()
	rawExec(t, DSN(path), `PRAGMA application_id = 0`)
	if id := headerAppID(t, path); id != 0 {
		t.Fatalf("application_id %#x, want 0 for an old store", id)
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("an old store: %v", err)
	}
	var id int64
	if err := db.sql.QueryRowContext(ctx, "PRAGMA application_id").Scan(&id); err != nil || id != ApplicationID {
		t.Errorf("application_id after migrating = %#x, %v", id, err)
	}
	db.Close()
	if id := headerAppID(t, path); id != ApplicationID {
		t.Errorf("application_id in the file %#x, want %#x", id, ApplicationID)
	}
}

// TestReadOnlyStore: a store opened read-only (as one this process may
// not write is) reads, refuses writes with an error naming the file, is
// never migrated, and leaves no -wal or -shm behind: a reader of a 0400
// store used to leave a 0400 -shm that kept the store unwritable after a
// chmod 0600.
func TestReadOnlyStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "roster.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(stx store.Tx) error {
		tx := stx.(*Tx)
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO settings (org_id, key, value) VALUES (1, 'org.name', 'Acme')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before := dirState(t, dir)

	db, err = openStore(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	if err := db.Read(ctx, func(stx store.Tx) error {
		tx := stx.(*Tx)
		return tx.tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'org.name'`).Scan(&name)
	}); err != nil || name != "Acme" {
		t.Fatalf("read %q, %v", name, err)
	}
	if n, err := db.Migrate(ctx); n != 0 || err != nil {
		t.Errorf("Migrate of a current read-only store = %d, %v", n, err)
	}
	err = db.Write(ctx, func(stx store.Tx) error {
		tx := stx.(*Tx)
		_, err := tx.tx.ExecContext(ctx, `UPDATE settings SET value = 'Other'`)
		return err
	})
	wantUnavailable(t, err, path, "read-only")
	// The driver's own refusal maps the same, for any write that gets
	// past Write.
	_, err = db.sql.ExecContext(ctx, `UPDATE settings SET value = 'Other'`)
	wantUnavailable(t, db.mapErr(err), path, "read-only")
	// A copy of a read-only store can still be made.
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := db.Backup(ctx, backup); err != nil {
		t.Errorf("backup of a read-only store: %v", err)
	}
	db.Close()
	if after := dirState(t, dir); !sameState(before, after) {
		t.Errorf("reading changed the directory: %v, then %v", names(before), names(after))
	}

	// An old read-only store cannot be brought up to date: say so.
	rawExec(t, DSN(path), `PRAGMA user_version = 9`)
	db, err = openStore(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.Migrate(ctx)
	wantUnavailable(t, err, path, "read-only")
}

// TestReadOnlyFileModes: a 0400 store and a store in a read-only
// directory are read, refuse writes with exit 7's error, and are writable
// again once their modes are.
func TestReadOnlyFileModes(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes whatever the file modes say; TestReadOnlyStore covers the read-only opening")
	}
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		chmod     func(dir, path string) error
		writeable func(dir, path string) error
	}{
		{"0400 file", func(_, p string) error { return os.Chmod(p, 0o400) }, func(_, p string) error { return os.Chmod(p, 0o600) }},
		{"0500 directory", func(d, _ string) error { return os.Chmod(d, 0o500) }, func(d, _ string) error { return os.Chmod(d, 0o700) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			path := filepath.Join(dir, "roster.db")
			db, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			if err := c.chmod(dir, path); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.writeable(dir, path) })
			db, err = Open(ctx, path)
			if err != nil {
				t.Fatalf("reading a read-only store: %v", err)
			}
			if !db.ReadOnly() {
				t.Error("not opened read-only")
			}
			if _, err := db.Version(ctx); err != nil {
				t.Error(err)
			}
			wantUnavailable(t, db.Write(ctx, func(store.Tx) error { return nil }), path, "read-only")
			db.Close()
			if err := c.writeable(dir, path); err != nil {
				t.Fatal(err)
			}
			db, err = Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Write(ctx, func(stx store.Tx) error {
				tx := stx.(*Tx)
				_, err := tx.tx.ExecContext(ctx, `INSERT INTO settings (org_id, key, value) VALUES (1, 'seats', '5')`)
				return err
			}); err != nil {
				t.Errorf("writing once writable again: %v", err)
			}
		})
	}
}

// TestRepairsReadOnlySideFiles: -wal and -shm files left read-only by a
// reader of a 0400 store (an older roster, the sqlite3 shell) are made
// writable again when the store is, or SQLite refuses every write.
func TestRepairsReadOnlySideFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "roster.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	// What such a reader leaves: an empty -wal and a -shm, both 0400.
	if err := os.WriteFile(path+"-wal", nil, 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+"-shm", bytes.Repeat([]byte{0}, 32768), 0o400); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(ctx, func(stx store.Tx) error {
		tx := stx.(*Tx)
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO settings (org_id, key, value) VALUES (1, 'seats', '5')`)
		return err
	}); err != nil {
		t.Fatalf("write: %v", err)
	}
	for _, side := range []string{path + "-wal", path + "-shm"} {
		fi, err := os.Stat(side)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 600", side, fi.Mode().Perm())
		}
	}
}

// driverCode is how the driver ends its messages: "… (1544)".
var driverCode = regexp.MustCompile(`\(\d+\)`)

func wantUnavailable(t *testing.T, err error, path, cause string) {
	t.Helper()
	switch {
	case !errors.Is(err, roster.ErrUnavailable):
		t.Errorf("error %v; want unavailable (exit 7)", err)
	case !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), cause):
		t.Errorf("error %q; want it to name %s and say %q", err, path, cause)
	case driverCode.MatchString(err.Error()):
		t.Errorf("error %q carries the driver's code", err)
	}
	if roster.Hint(err) == "" {
		t.Errorf("error %v has no hint", err)
	}
}
