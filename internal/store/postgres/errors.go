package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// SQLSTATE codes roster treats apart (PostgreSQL's appendix A).
const (
	codeSerializationFailure = "40001"
	codeDeadlock             = "40P01"
	codeReadOnly             = "25006"
	codeUndefinedTable       = "42P01"
)

// mapErr turns what PostgreSQL and pgx report into roster's errors, as
// store/sqlite does for SQLite: a constraint violation is a conflict, and
// a failure of the environment (server unreachable, gone, restarting or
// not answering in time, no free connection, read-only standby, refused
// sign-in, disk full, lock and statement timeouts) is
// roster.ErrUnavailable, HTTP 503 and exit 7, with a message that names
// the database (never with its password) and says what to do. Other
// errors, bugs, pass unchanged.
func (db *DB) mapErr(err error) error { return dbError(db.path, err) }

func dbError(name string, err error) error {
	if err == nil {
		return nil
	}
	var re *roster.Error
	if errors.As(err, &re) {
		return err
	}
	// A connect error wraps the server's answer when there was one (wrong
	// password, no such database, too many connections): that comes first.
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if mapped := serverError(name, pe); mapped != nil {
			return mapped
		}
		return err
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return roster.Errorf(roster.ErrUnavailable, "cannot reach PostgreSQL database %s: %s", name, networkCause(err)).
			WithHint("check that the server is running and accepts connections at that host and port (pg_isready -h HOST -p PORT), and that the URL is right")
	}
	var uc *uncertainCommit
	if errors.As(err, &uc) {
		return &store.CommitUnknown{Err: roster.Errorf(roster.ErrUnavailable, "lost the connection to PostgreSQL database %s while committing (%s): the change may or may not have been made", name, networkCause(err)).
			WithHint("look before trying again; a client of roster serve that sends an Idempotency-Key learns which by retrying with the same key")}
	}
	if lostConnection(err) {
		return roster.Errorf(roster.ErrUnavailable, "lost the connection to PostgreSQL database %s: %s", name, networkCause(err)).
			WithHint("try again; if it persists, check the server's log and the network")
	}
	return err
}

// lostConnection reports whether err is a connection-level failure: the
// connection was closed, reset, refused or cut short, or the server did
// not answer in time (a deadline passed, or a read or write timed out).
func lostConnection(err error) bool {
	var ne net.Error
	return errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT)
}

// uncertainCommit is a COMMIT whose answer never came: the connection
// failed after it was sent, so whether the transaction committed is not
// known.
type uncertainCommit struct{ err error }

func (e *uncertainCommit) Error() string { return "commit: " + e.err.Error() }
func (e *uncertainCommit) Unwrap() error { return e.err }

// serverError maps an error PostgreSQL reported, or returns nil for one
// that is roster's own bug.
func serverError(name string, pe *pgconn.PgError) error {
	unavailable := func(format string, hint string) error {
		return roster.Errorf(roster.ErrUnavailable, format, name).WithHint("%s", hint)
	}
	switch class := pe.Code[:2]; {
	case class == "23": // integrity constraint violation
		msg := "conflict with existing data: " + pe.Message
		if pe.TableName != "" {
			msg += " (table " + pe.TableName + ")"
		}
		return &roster.Error{Kind: roster.ErrConflict, Message: msg}
	case pe.Code == codeSerializationFailure, pe.Code == codeDeadlock:
		return unavailable("PostgreSQL database %s is too busy: a write kept colliding with concurrent writes",
			"try again")
	case pe.Code == "55P03", pe.Code == "57014": // lock_not_available, query_canceled
		return unavailable("PostgreSQL database %s did not answer in time (a lock or statement timeout)",
			"try again; if it persists, look for long-running transactions (pg_stat_activity)")
	case pe.Code == codeReadOnly:
		return readOnlyError(name)
	case pe.Code == "53300", pe.Code == "53400": // too_many_connections, configuration_limit_exceeded
		return unavailable("PostgreSQL database %s has no free connection",
			"try again; raise the server's max_connections, lower pool_max_conns in the URL, or put a connection pooler in front")
	case pe.Code == "53100": // disk_full
		return unavailable("cannot write PostgreSQL database %s: the server's disk is full",
			"free some space on the database server, then try again")
	case class == "53": // insufficient resources
		return unavailable("PostgreSQL database %s is out of resources (memory or other limits)",
			"try again; if it persists, check the server's log")
	case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // admin or crash shutdown, cannot connect now
		return unavailable("PostgreSQL database %s is shutting down or starting up",
			"try again once the server is up")
	case pe.Code == "25P03", pe.Code == "25P04", pe.Code == "57P05": // idle in transaction, transaction or idle session timeout
		return unavailable("PostgreSQL database %s ended a session that was idle or in a transaction too long",
			"try again; the timeouts are idle_in_transaction_session_timeout and transaction_timeout (see docs/deploy.md)")
	case class == "57": // operator intervention: terminated by an administrator, database dropped
		return unavailable("PostgreSQL database %s ended the session (an administrator or the server stopped it)",
			"try again; if it persists, check the server's log")
	case class == "08": // connection exception
		return unavailable("lost the connection to PostgreSQL database %s",
			"try again; if it persists, check the server's log and the network")
	case class == "28": // invalid authorization
		return unavailable("PostgreSQL refused to sign in to %s: wrong user or password, or not allowed by pg_hba.conf",
			"check the user and password (in the URL, PGPASSWORD or ~/.pgpass) and the server's pg_hba.conf")
	case pe.Code == "3D000": // invalid_catalog_name
		return unavailable("PostgreSQL database %s does not exist",
			"create it (createdb NAME) or correct the database name in the URL")
	case pe.Code == "3F000": // invalid_schema_name
		return unavailable("PostgreSQL database %s has no schema to hold roster's tables",
			"create the schema (CREATE SCHEMA name), or set search_path in the URL to an existing one")
	case pe.Code == "42501": // insufficient_privilege
		return roster.Errorf(roster.ErrUnavailable, "PostgreSQL denied roster access to %s: %s", name, pe.Message).
			WithHint("grant the URL's user rights on roster's schema and tables, or connect as their owner")
	case class == "58", pe.Code == "XX001", pe.Code == "XX002": // system error, data or index corrupted
		return roster.Errorf(roster.ErrUnavailable, "PostgreSQL database %s failed to read or write its files: %s", name, pe.Message).
			WithHint("check the database server's disk and log, then run roster db check")
	}
	return nil
}

// networkCause says in plain words why a connection failed or broke.
func networkCause(err error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dnsErr):
		return "host not found"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "network unreachable"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return "the server closed the connection"
	case errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, net.ErrClosed):
		return "the connection was closed"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return "the server did not answer in time"
	case errors.Is(err, syscall.ENOENT):
		return "no server socket at that path"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "the server did not answer in time"
	}
	if strings.Contains(err.Error(), "tls") {
		return "the TLS handshake failed (see sslmode in the URL)"
	}
	return "the connection failed"
}

// retryable reports whether err is PostgreSQL aborting a transaction that
// may succeed if run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerializationFailure || pe.Code == codeDeadlock)
}

func readOnlyError(name string) error {
	return roster.Errorf(roster.ErrUnavailable, "cannot write PostgreSQL database %s: the server is read-only (a hot standby, or default_transaction_read_only)", name).
		WithHint("point --db at the primary server")
}

func (db *DB) readOnlyError() error { return readOnlyError(db.path) }
