// Package sqlite is roster's store: a SQLite file opened through the pure-Go
// modernc.org/sqlite driver, its schema migrations and its queries.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/roster-dev/roster/internal/roster"
)

// DB is an open store.
type DB struct {
	sql  *sql.DB
	path string
}

// DSN returns the connection string of DESIGN.md for a file path.
func DSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating if need be) the store at path and brings its schema
// up to date. The file is created 0600 before SQLite touches it.
func Open(ctx context.Context, path string) (*DB, error) {
	db, err := OpenNoMigrate(ctx, path)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenNoMigrate opens the store without touching its schema, for db check.
func OpenNoMigrate(ctx context.Context, path string) (*DB, error) {
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	sdb, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// database/sql keeps 2 idle connections by default; a server would open
	// and close SQLite connections, each with its pragmas, all the time.
	sdb.SetMaxIdleConns(16)
	db := &DB{sql: sdb, path: path}
	var mode string
	if err := sdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		sdb.Close()
		return nil, mapErr(fmt.Errorf("open store %s: %w", path, err))
	}
	if !strings.EqualFold(mode, "wal") {
		sdb.Close()
		return nil, fmt.Errorf("open store %s: journal mode is %q, not wal (is the file on a network file system?)", path, mode)
	}
	var fk int
	if err := sdb.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		sdb.Close()
		return nil, fmt.Errorf("open store %s: foreign keys not enabled", path)
	}
	return db, nil
}

// createPrivate makes the directory (0700) and an empty file (0600) unless
// the file exists, so SQLite never creates it with the umask's mode.
func createPrivate(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create store directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create store: %w", err)
	}
	return f.Close()
}

// Close closes the store.
func (db *DB) Close() error { return db.sql.Close() }

// Path is the store's file.
func (db *DB) Path() string { return db.path }

// Write runs fn in one IMMEDIATE transaction: the write lock is taken at
// BEGIN, so the rules fn checks still hold when it commits.
func (db *DB) Write(ctx context.Context, fn func(*Tx) error) error {
	return db.run(ctx, false, fn)
}

// Read runs fn in one read transaction, a consistent snapshot.
func (db *DB) Read(ctx context.Context, fn func(*Tx) error) error {
	return db.run(ctx, true, fn)
}

func (db *DB) run(ctx context.Context, readOnly bool, fn func(*Tx) error) error {
	tx, err := db.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return mapErr(fmt.Errorf("begin: %w", err))
	}
	if err := fn(&Tx{tx: tx}); err != nil {
		tx.Rollback()
		return mapErr(err)
	}
	if readOnly {
		return mapErr(tx.Rollback())
	}
	return mapErr(tx.Commit())
}

// mapErr turns a store lock timeout into roster.ErrUnavailable and a
// constraint failure into roster.ErrConflict; other errors pass unchanged.
func mapErr(err error) error {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return &roster.Error{Kind: roster.ErrUnavailable, Message: "the store is locked by another process", Hint: "try again; if it persists, look for a stuck roster process"}
	case sqlite3.SQLITE_CONSTRAINT:
		return &roster.Error{Kind: roster.ErrConflict, Message: "conflict with existing data: " + se.Error()}
	}
	return err
}

// Check runs SQLite's integrity check and reports the schema version.
func (db *DB) Check(ctx context.Context) (version int, problems []string, err error) {
	if err := db.sql.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, nil, mapErr(err)
	}
	rows, err := db.sql.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return version, nil, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return version, nil, err
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return version, nil, err
	}
	fkRows, err := db.sql.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return version, problems, mapErr(err)
	}
	defer fkRows.Close()
	for fkRows.Next() {
		var table, parent string
		var rowid, fkid sql.NullInt64
		if err := fkRows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return version, problems, err
		}
		problems = append(problems, fmt.Sprintf("row %d of %s refers to a missing row of %s", rowid.Int64, table, parent))
	}
	return version, problems, fkRows.Err()
}

// Backup writes a consistent copy of the store to path with VACUUM INTO,
// mode 0600, and fsyncs it. path must not exist.
func (db *DB) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return roster.Errorf(roster.ErrConflict, "backup file %s already exists", path).WithHint("choose a new file name or remove the old backup")
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return roster.Errorf(roster.ErrInvalid, "create backup: %v", err)
	}
	f.Close()
	// VACUUM INTO refuses a non-empty target but accepts an empty file, so
	// the 0600 file made above is the one SQLite fills.
	if _, err := db.sql.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		os.Remove(path)
		return mapErr(fmt.Errorf("backup: %w", err))
	}
	return syncFile(path)
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("backup: fsync: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil
	}
	defer d.Close()
	d.Sync() // best effort: some file systems refuse to sync a directory
	return nil
}

// collect runs a query and turns each row into a T with scan; an empty
// result is an empty, not nil, slice.
func collect[T any](ctx context.Context, tx *sql.Tx, q string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
