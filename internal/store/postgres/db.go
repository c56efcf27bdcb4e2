// Package postgres is roster's store on PostgreSQL, for many roster serve
// replicas sharing one database: a pgx connection pool, the schema's
// migrations and the queries of store.Tx. It behaves as store/sqlite does;
// the conformance suite (store/storetest) holds both to that.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// txMode is how write transactions keep the rules across servers.
type txMode int

const (
	// advisory serialises writers with a transaction-level advisory lock,
	// as SQLite's write lock does: every write sees every earlier commit,
	// and none is ever retried. The default (see BenchmarkWrite*).
	advisory txMode = iota
	// serializable runs writers concurrently at SERIALIZABLE isolation and
	// retries those PostgreSQL aborts as serialization failures.
	serializable
)

// txModeParam is the URL parameter choosing the txMode; it is roster's,
// so it is taken out of the URL before pgx sees it.
const txModeParam = "roster_tx"

// lockClass is the first key of roster's advisory lock ("RSTR"); the
// second is a hash of the schema, so that two roster stores in two schemas
// of one database (the tests, or two installations) do not wait for each
// other.
const lockClass int32 = 0x52535452

// maxAttempts bounds how often a write transaction is run when it keeps
// failing to serialise against concurrent ones.
const maxAttempts = 10

// The timeouts a URL gets unless it sets its own (docs/deploy.md). Without
// them a server that stops answering (frozen, or behind a network that
// drops packets) makes every command and request wait for ever, and a
// process that stopped inside a transaction holds roster's write lock
// until its connection dies.
const (
	// defaultConnectTimeout bounds making a connection: dial, TLS and
	// sign-in (connect_timeout, in seconds, in the URL).
	defaultConnectTimeout = 5 * time.Second
	// defaultStatementTimeout is PostgreSQL's statement_timeout: the
	// server cancels a statement, waiting for roster's lock included,
	// that runs longer.
	defaultStatementTimeout = "30s"
	// defaultIdleTimeout is idle_in_transaction_session_timeout: the server
	// ends the session of a transaction left idle that long, and so
	// releases the locks of a client that froze or vanished inside one.
	defaultIdleTimeout = "60s"
	// answerGrace is how much longer than statement_timeout roster waits
	// for any answer before it gives up on the connection: a server that
	// does not answer at all cannot cancel anything itself.
	answerGrace = 5 * time.Second
	// endTimeout bounds a ROLLBACK made after a failure, and a COMMIT when
	// statement_timeout is off.
	endTimeout = 10 * time.Second
)

// defaultMaxConns is the pool size unless the URL sets pool_max_conns:
// pgx's default (4 on this kind of machine) is too small for a server
// whose readers must not queue behind writers waiting for the lock.
const defaultMaxConns = 16

// DB is an open store.
type DB struct {
	pool *pgxpool.Pool
	// path is the URL without its password: the store's name in messages.
	path string
	// schema is where roster's tables are: the first existing schema of
	// the search_path.
	schema string
	// lockKey is the second key of the advisory lock (see lockClass).
	lockKey int32
	mode    txMode
	// readOnly is set when the server is a hot standby or defaults to
	// read-only transactions: Write then fails at once, as on a read-only
	// SQLite file.
	readOnly bool
	// writer admits one write transaction of this process at a time in
	// advisory mode: the others wait here, not on a pooled connection,
	// so that readers still find free connections.
	writer chan struct{}
	// retries counts write transactions run again after a serialization
	// failure.
	retries atomic.Int64
	// wait is how long roster waits for the answer to one statement
	// before it gives up on the connection: statement_timeout plus
	// answerGrace, or 0 (for ever) when statement_timeout is off.
	wait time.Duration
}

var _ store.Admin = (*DB)(nil)

// Open connects to the PostgreSQL database at url (postgres:// or
// postgresql://) and brings roster's schema up to date. Tables live in the
// first existing schema of the search_path, which the URL may set
// (?search_path=roster). The URL may also say roster_tx=serializable to
// run write transactions at SERIALIZABLE isolation with retries instead of
// under roster's advisory lock.
func Open(ctx context.Context, url string) (*DB, error) {
	db, err := OpenNoMigrate(ctx, url)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenNoMigrate connects without touching the schema, for the db commands.
func OpenNoMigrate(ctx context.Context, rawURL string) (*DB, error) {
	cfg, mode, wait, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, dbError(Redact(rawURL), fmt.Errorf("connect: %w", err))
	}
	db := &DB{pool: pool, path: Redact(rawURL), mode: mode, writer: make(chan struct{}, 1), wait: wait}
	// The pool connects lazily: this is the first contact, and tells an
	// unreachable server at once.
	var schema *string
	qctx, cancel := db.answer(ctx)
	defer cancel()
	err = pool.QueryRow(qctx, `SELECT current_schema(),
		pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'`).Scan(&schema, &db.readOnly)
	if err != nil {
		pool.Close()
		return nil, db.mapErr(err)
	}
	if schema == nil {
		pool.Close()
		return nil, roster.Errorf(roster.ErrUnavailable, "PostgreSQL database %s has no schema for roster's tables: no schema of its search_path exists", db.path).
			WithHint("create the schema (CREATE SCHEMA name), or set search_path in the URL to an existing one")
	}
	db.schema = *schema
	h := fnv.New32a()
	h.Write([]byte(db.schema))
	db.lockKey = int32(h.Sum32())
	return db, nil
}

// parseURL makes pgx's configuration from a roster URL, taking roster's own
// parameters out of it and setting the default timeouts the URL does not
// set; wait is DB.wait.
func parseURL(raw string) (cfg *pgxpool.Config, mode txMode, wait time.Duration, err error) {
	invalid := func(why string) error {
		return roster.Errorf(roster.ErrInvalid, "invalid PostgreSQL URL %s: %s", Redact(raw), why).
			WithHint("write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&search_path=…]")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, 0, 0, invalid("not a postgres:// URL")
	}
	q := u.Query()
	mode = advisory
	switch v := q.Get(txModeParam); v {
	case "", "advisory":
	case "serializable":
		mode = serializable
	default:
		return nil, 0, 0, invalid(fmt.Sprintf("%s=%s: say advisory or serializable", txModeParam, v))
	}
	q.Del(txModeParam)
	setMax := !q.Has("pool_max_conns")
	u.RawQuery = q.Encode()
	cfg, err = pgxpool.ParseConfig(u.String())
	if err != nil {
		// pgx's own text repeats the URL; its cause does not.
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			err = pe.Unwrap()
		}
		return nil, 0, 0, invalid(err.Error())
	}
	if setMax {
		cfg.MaxConns = defaultMaxConns
	}
	// connect_timeout, from the URL or PGCONNECT_TIMEOUT, is pgx's; 0 is
	// pgx's "none", which a URL can still ask for with connect_timeout=0.
	if !q.Has("connect_timeout") && os.Getenv("PGCONNECT_TIMEOUT") == "" {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	// Other parameters reach the server as settings of each session.
	params := cfg.ConnConfig.RuntimeParams
	if _, set := params["statement_timeout"]; !set {
		params["statement_timeout"] = defaultStatementTimeout
	}
	if _, set := params["idle_in_transaction_session_timeout"]; !set {
		params["idle_in_transaction_session_timeout"] = defaultIdleTimeout
	}
	st, err := parseInterval(params["statement_timeout"])
	if err != nil {
		return nil, 0, 0, invalid("statement_timeout=" + params["statement_timeout"] + ": " + err.Error())
	}
	if _, err := parseInterval(params["idle_in_transaction_session_timeout"]); err != nil {
		return nil, 0, 0, invalid("idle_in_transaction_session_timeout=" + params["idle_in_transaction_session_timeout"] + ": " + err.Error())
	}
	if st > 0 {
		wait = st + answerGrace
	}
	return cfg, mode, wait, nil
}

// parseInterval reads a PostgreSQL time setting as the server would: a
// whole number with an optional unit (us, ms, s, min, h, d), milliseconds
// without one.
func parseInterval(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a whole number of milliseconds, or one with a unit such as 30s or 5min")
	}
	units := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	unit, ok := units[strings.TrimSpace(v[i:])]
	if !ok {
		return 0, errors.New("unknown unit: say us, ms, s, min, h or d")
	}
	if n > int64(math.MaxInt64/unit) {
		return 0, errors.New("too long")
	}
	return time.Duration(n) * unit, nil
}

// answer bounds ctx by how long roster waits for one answer (DB.wait).
func (db *DB) answer(ctx context.Context) (context.Context, context.CancelFunc) {
	return within(ctx, db.wait)
}

// within bounds ctx by d, or not at all when d is 0.
func within(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// ending is the context of a COMMIT or ROLLBACK: not cancelled with ctx,
// so that a transaction's end is never cut in half by a caller who gave
// up (a COMMIT whose answer is lost leaves the outcome unknown), but
// bounded, for a server that does not answer.
func (db *DB) ending(ctx context.Context) (context.Context, context.CancelFunc) {
	d := db.wait
	if d <= 0 {
		d = endTimeout
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// Redact returns url without its password, as Path shows it: the user
// part keeps only the user name, and password parameters go.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Nothing can be said safely about a URL that does not parse.
		return "(an unreadable PostgreSQL URL)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	if q := u.Query(); q.Has("password") || q.Has("sslpassword") {
		q.Del("password")
		q.Del("sslpassword")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Path is the database's URL without its password.
func (db *DB) Path() string { return db.path }

// ReadOnly reports whether the server only reads: a hot standby, or one
// whose transactions default to read-only.
func (db *DB) ReadOnly() bool { return db.readOnly }

// SchemaVersion is the schema version this build writes. PostgreSQL
// stores count their own versions, unrelated to SQLite's.
func (db *DB) SchemaVersion() int { return SchemaVersion }

// Retries is how many write transactions were run again after failing to
// serialise against concurrent ones (serializable mode only), for metrics.
func (db *DB) Retries() int64 { return db.retries.Load() }

// Read runs fn in one REPEATABLE READ, READ ONLY transaction: a
// consistent snapshot.
func (db *DB) Read(ctx context.Context, fn func(store.Tx) error) error {
	return db.mapErr(db.runOnce(ctx, true, fn))
}

// Lookup runs fn as Read does: pgx's pool gives a transaction no
// round trip worth saving here.
func (db *DB) Lookup(ctx context.Context, fn func(store.Tx) error) error { return db.Read(ctx, fn) }

// Write runs fn in one write transaction, committed when fn returns nil.
// In advisory mode the transaction first takes roster's advisory lock, so
// writers run one at a time across every server, as on SQLite, and the
// rules fn checks still hold when it commits. In serializable mode
// PostgreSQL aborts a transaction that would break serialisability, and
// it is run again, fn included: fn must not act outside the transaction
// except to set its results.
func (db *DB) Write(ctx context.Context, fn func(store.Tx) error) error {
	if db.readOnly {
		return db.readOnlyError()
	}
	for attempt := 1; ; attempt++ {
		err := db.runOnce(ctx, false, fn)
		if err == nil || !retryable(err) || attempt == maxAttempts {
			return db.mapErr(err)
		}
		db.retries.Add(1)
		// Jittered, growing pauses keep the retries of colliding
		// transactions from colliding again.
		backoff := time.Duration(1<<min(attempt, 6)) * time.Millisecond
		select {
		case <-time.After(backoff/2 + rand.N(backoff)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (db *DB) runOnce(ctx context.Context, readOnly bool, fn func(store.Tx) error) (err error) {
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	switch {
	case readOnly:
		opts = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	case db.mode == serializable:
		opts.IsoLevel = pgx.Serializable
	default:
		release, err := db.lockWriter(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	bctx, cancel := db.answer(ctx)
	ptx, err := db.pool.BeginTx(bctx, opts)
	cancel()
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// After a commit this does nothing; after a failure it ends the
	// transaction even if ctx is done, so the connection goes back clean.
	defer func() {
		rctx, cancel := db.ending(ctx)
		defer cancel()
		ptx.Rollback(rctx)
	}()
	tx := &Tx{txConn: &txConn{tx: ptx, wait: db.wait}, org: store.OrgOf(ctx)}
	if !readOnly && db.mode == advisory {
		// READ COMMITTED: every statement after the lock sees every write
		// committed before it was granted.
		if _, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, db.lockKey); err != nil {
			return fmt.Errorf("take the write lock: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		// A serialization failure fn met and then reported otherwise (or
		// swallowed) is still one: the transaction can only be retried.
		if tx.conflict != nil {
			return tx.conflict
		}
		return err
	}
	if readOnly {
		return nil
	}
	// A caller who gave up (a client gone, a server shutting down) is not
	// answered that it succeeded: the transaction is rolled back. Past
	// this point it no longer cancels: a COMMIT cut short would leave
	// unknown whether it happened.
	if err := context.Cause(ctx); err != nil {
		return err
	}
	cctx, cancel := db.ending(ctx)
	defer cancel()
	if err := ptx.Commit(cctx); err != nil {
		if tx.conflict != nil {
			return tx.conflict
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) && lostConnection(err) {
			return &uncertainCommit{err}
		}
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// lockWriter waits for this process's turn to write; release ends it.
func (db *DB) lockWriter(ctx context.Context) (release func(), err error) {
	select {
	case db.writer <- struct{}{}:
		return func() { <-db.writer }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Backup is not roster's to do on PostgreSQL: roster db backup writes a
// SQLite file, and a PostgreSQL database is copied by its own tools.
func (db *DB) Backup(ctx context.Context, path string) error {
	u, err := url.Parse(db.path)
	target := db.path
	if err == nil {
		// pg_dump takes no search_path; it takes --schema.
		q := u.Query()
		q.Del("search_path")
		q.Del(txModeParam)
		u.RawQuery = q.Encode()
		target = u.String()
	}
	schema := ""
	if db.schema != "public" {
		schema = " --schema=" + pgx.Identifier{db.schema}.Sanitize()
	}
	return roster.Errorf(roster.ErrInvalid, "db backup writes SQLite files; back up PostgreSQL database %s with pg_dump", db.path).
		WithHint("pg_dump --format=custom%s --file=%s '%s' (restore with pg_restore)", schema, path, target)
}
