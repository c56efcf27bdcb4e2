// Package sqlite is roster's store: a SQLite file opened through the pure-Go
// modernc.org/sqlite driver, its schema migrations and its queries.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// DB is an open store.
type DB struct {
	sql  *sql.DB
	path string
	// readOnly is set when this process may not change the store (file
	// mode, directory permissions, a read-only file system): it is then
	// opened read-only, never migrated nor converted, and Write fails.
	readOnly bool
	// writer admits one write transaction of this process at a time, in
	// arrival order. SQLite's busy handler polls with growing sleeps, so
	// goroutines of one process that race for the write lock through it can
	// starve one of them past busy_timeout: under load TestConcurrentClients
	// lost a write to "the store is locked". Other processes still wait
	// through busy_timeout.
	writer chan struct{}
	stmts  *stmts
}

// busyTimeout is how long, in milliseconds, a connection waits for a lock
// held by another connection; tests shorten it.
var busyTimeout = 5000

// DSN returns the connection string of DESIGN.md for a file path.
func DSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return fileURI(path, q)
}

// readOnlyDSN opens a store this process may not change. It sets no
// journal mode (that would write), and keeps SQLite from creating -wal and
// -shm files: made by a reader of a 0400 store they would be 0400 too, and
// keep the store unwritable after a chmod 0600. Without a -wal file nobody
// has the store open and all of it is in the main file, so it is read as
// immutable (no locks, no side files); with one, its committed changes are
// read through the existing -shm. Either way SQLite refuses every write.
func readOnlyDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout))
	q.Add("_pragma", "foreign_keys(1)")
	// Not query_only: it would refuse VACUUM INTO, and so db backup, which
	// writes only the copy.
	if _, err := os.Lstat(path + "-wal"); errors.Is(err, fs.ErrNotExist) {
		q.Set("immutable", "1")
	} else {
		q.Set("mode", "ro")
	}
	return fileURI(path, q)
}

func fileURI(path string, q url.Values) string {
	uri := "file:" + (&url.URL{Path: path}).EscapedPath()
	if len(q) > 0 {
		uri += "?" + q.Encode()
	}
	return uri
}

// Open opens the roster store at path, creating it if no file is there,
// and brings its schema up to date. A file that is not a roster store is
// refused untouched (roster.ErrInvalid); a store this process may not
// change is opened read-only, and must then have the current schema.
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

// OpenNoMigrate opens the store, creating it if no file is there, without
// touching its schema, for the db commands.
func OpenNoMigrate(ctx context.Context, path string) (*DB, error) {
	// Everything is checked before SQLite opens the file for writing: the
	// DSN's journal_mode(WAL) alone would rewrite another program's file.
	exists, err := inspect(ctx, path)
	if err != nil {
		return nil, err
	}
	if !exists {
		if err := create(ctx, path); err != nil {
			return nil, err
		}
		// Another process may have made the store first: check what is
		// there now.
		if exists, err = inspect(ctx, path); err != nil {
			return nil, err
		}
		if !exists {
			return nil, roster.Errorf(roster.ErrUnavailable, "cannot create %s: it was removed while roster made it", path).
				WithHint("try again")
		}
	}
	repairSideFiles(path)
	return openStore(ctx, path, !writable(path))
}

// openStore opens a file already known to be a roster store.
func openStore(ctx context.Context, path string, readOnly bool) (*DB, error) {
	dsn := DSN(path)
	if readOnly {
		dsn = readOnlyDSN(path)
	}
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// database/sql keeps 2 idle connections by default; a server would open
	// and close SQLite connections, each with its pragmas, all the time.
	sdb.SetMaxIdleConns(16)
	db := &DB{sql: sdb, path: path, readOnly: readOnly, writer: make(chan struct{}, 1),
		stmts: &stmts{db: sdb, m: map[string]*sql.Stmt{}}}
	if !readOnly {
		var mode string
		if err := sdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			sdb.Close()
			return nil, db.mapErr(err)
		}
		if !strings.EqualFold(mode, "wal") {
			sdb.Close()
			return nil, fmt.Errorf("open store %s: journal mode is %q, not wal (is the file on a network file system?)", path, mode)
		}
	}
	var fk int
	if err := sdb.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		sdb.Close()
		return nil, db.mapErr(err)
	}
	if fk != 1 {
		sdb.Close()
		return nil, fmt.Errorf("open store %s: foreign keys not enabled", path)
	}
	return db, nil
}

// Close closes the store.
func (db *DB) Close() error {
	db.stmts.close()
	return db.sql.Close()
}

// Path is the store's file.
func (db *DB) Path() string { return db.path }

// ReadOnly reports whether the store was opened read-only, because this
// process may not change it.
func (db *DB) ReadOnly() bool { return db.readOnly }

// SchemaVersion is the schema version this build writes.
func (db *DB) SchemaVersion() int { return SchemaVersion }

var _ store.Admin = (*DB)(nil)

// Write runs fn in one IMMEDIATE transaction: the write lock is taken at
// BEGIN, so the rules fn checks still hold when it commits.
func (db *DB) Write(ctx context.Context, fn func(store.Tx) error) error {
	return db.run(ctx, false, fn)
}

// Read runs fn in one read transaction, a consistent snapshot.
func (db *DB) Read(ctx context.Context, fn func(store.Tx) error) error {
	return db.run(ctx, true, fn)
}

// Lookup runs fn's one statement outside a transaction: SQLite makes a
// single statement its own consistent read, and BEGIN and ROLLBACK, which
// the driver prepares anew each time, cost as much as the look-up.
func (db *DB) Lookup(ctx context.Context, fn func(store.Tx) error) error {
	return db.mapErr(fn(&Tx{txShared: &txShared{q: db.sql, stmts: db.stmts}, org: store.OrgOf(ctx)}))
}

func (db *DB) run(ctx context.Context, readOnly bool, fn func(store.Tx) error) error {
	if !readOnly {
		release, err := db.lockWriter(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	tx, err := db.begin(ctx, readOnly)
	if err != nil {
		return db.mapErr(fmt.Errorf("begin: %w", err))
	}
	t := &Tx{txShared: &txShared{tx: tx, q: tx, stmts: db.stmts}, org: store.OrgOf(ctx)}
	err = fn(t)
	if err == nil {
		err = t.resumeSearch(ctx)
	}
	if err != nil {
		tx.Rollback()
		return db.mapErr(err)
	}
	if readOnly {
		return db.mapErr(tx.Rollback())
	}
	return db.mapErr(tx.Commit())
}

// beginTries is how many times a write's BEGIN waits busy_timeout for
// another process's write lock before the store is reported locked.
const beginTries = 3

// begin starts a transaction. SQLite's busy handler polls with growing
// sleeps and grants the lock to whoever polls at the right moment, not to
// who waited longest, so a process among several writing at once can wait
// past busy_timeout while the others go on (TestConcurrentProcesses lost
// a write so under the race detector on a loaded machine). A BEGIN
// refused as busy did nothing, so it is asked again, up to beginTries
// times busy_timeout in all: a store held longer than that is locked.
func (db *DB) begin(ctx context.Context, readOnly bool) (*sql.Tx, error) {
	for try := 1; ; try++ {
		tx, err := db.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
		if err == nil || try == beginTries || ctx.Err() != nil {
			return tx, err
		}
		if code := sqliteCode(err); code != sqlite3.SQLITE_BUSY && code != sqlite3.SQLITE_LOCKED {
			return tx, err
		}
	}
}

// lockWriter waits for this process's turn to write; release ends it.
func (db *DB) lockWriter(ctx context.Context) (release func(), err error) {
	if db.readOnly {
		return nil, db.readOnlyError()
	}
	select {
	case db.writer <- struct{}{}:
		return func() { <-db.writer }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Check runs SQLite's integrity check and reports the schema version.
func (db *DB) Check(ctx context.Context) (version int, problems []string, err error) {
	if err := db.sql.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, nil, db.mapErr(err)
	}
	rows, err := db.sql.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return version, nil, db.mapErr(err)
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
	fk, err := foreignKeyProblems(ctx, db.sql)
	if err != nil {
		return version, problems, db.mapErr(err)
	}
	problems = append(problems, fk...)
	orgs, err := db.orgProblems(ctx)
	if err != nil {
		return version, problems, db.mapErr(err)
	}
	paused, err := db.searchProblems(ctx)
	return version, append(append(problems, orgs...), paused...), db.mapErr(err)
}

// foreignKeyProblems lists the rows PRAGMA foreign_key_check finds
// referring to rows that are not there.
func foreignKeyProblems(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var table, parent string
		var rowid, fkid sql.NullInt64
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return nil, err
		}
		problems = append(problems, fmt.Sprintf("row %d of %s refers to a missing row of %s", rowid.Int64, table, parent))
	}
	return problems, rows.Err()
}

// collect runs a query and turns each row into a T with scan; an empty
// result is an empty, not nil, slice.
func collect[T any](ctx context.Context, t *Tx, q string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := t.query(ctx, q, args...)
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
