package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/roster-dev/roster/internal/roster"
)

// TestConnectionErrorsUnavailable: every way a connection to PostgreSQL
// can fail maps to roster.ErrUnavailable (HTTP 503, exit 7) with a
// message naming the database and a hint, never to an internal error.
// The errors are built as pgx reports them, wrapped as the store wraps
// them.
func TestConnectionErrorsUnavailable(t *testing.T) {
	const name = "postgres://roster@db.example:5432/roster"
	opErr := func(op string, err error) error {
		return &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, err)}
	}
	for _, c := range []struct {
		kind string
		err  error
		want string // in the message
	}{
		{"conn closed", fmt.Errorf("begin: %w", pgconn.ErrConnClosed), "the connection was closed"},
		{"conn closed in a statement", fmt.Errorf("take the write lock: failed to deallocate cached statement(s): %w", pgconn.ErrConnClosed), "the connection was closed"},
		{"EOF", fmt.Errorf("commit: %w", io.EOF), "closed the connection"},
		{"unexpected EOF", fmt.Errorf("insert user: %w", io.ErrUnexpectedEOF), "closed the connection"},
		{"connection reset", opErr("read", syscall.ECONNRESET), "closed the connection"},
		{"broken pipe", opErr("write", syscall.EPIPE), "closed the connection"},
		{"connection refused", opErr("dial", syscall.ECONNREFUSED), "connection refused"},
		{"connection aborted", opErr("read", syscall.ECONNABORTED), "closed the connection"},
		{"TCP timeout", opErr("read", syscall.ETIMEDOUT), "did not answer in time"},
		{"read deadline", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, "did not answer in time"},
		{"closed network connection", fmt.Errorf("write: %w", net.ErrClosed), "the connection was closed"},
		{"context deadline (statement wait)", fmt.Errorf("timeout: %w", context.DeadlineExceeded), "did not answer in time"},
		{"57P01 admin_shutdown", &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}, "shutting down"},
		{"57P02 crash_shutdown", &pgconn.PgError{Severity: "FATAL", Code: "57P02", Message: "terminating connection because of crash of another server process"}, "shutting down"},
		{"57P03 cannot_connect_now", &pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is starting up"}, "starting up"},
		{"57P05 idle_session_timeout", &pgconn.PgError{Severity: "FATAL", Code: "57P05"}, "idle"},
		{"57P04 database_dropped", &pgconn.PgError{Severity: "FATAL", Code: "57P04"}, "ended the session"},
		{"57014 statement_timeout", &pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"}, "did not answer in time"},
		{"25P03 idle_in_transaction_session_timeout", &pgconn.PgError{Severity: "FATAL", Code: "25P03"}, "idle"},
		{"08006 connection_failure", &pgconn.PgError{Code: "08006"}, "lost the connection"},
		{"08P01 protocol_violation", &pgconn.PgError{Code: "08P01"}, "lost the connection"},
		{"55P03 lock_not_available", &pgconn.PgError{Code: "55P03"}, "did not answer in time"},
		{"53300 too_many_connections", &pgconn.PgError{Code: "53300"}, "no free connection"},
		{"40001 serialization_failure", &pgconn.PgError{Code: "40001"}, "too busy"},
		{"commit without an answer", &uncertainCommit{io.ErrUnexpectedEOF}, "may or may not have been made"},
		{"commit cut by a deadline", &uncertainCommit{fmt.Errorf("timeout: %w", context.DeadlineExceeded)}, "may or may not have been made"},
	} {
		t.Run(c.kind, func(t *testing.T) {
			got := dbError(name, c.err)
			if !errors.Is(got, roster.ErrUnavailable) {
				t.Fatalf("dbError(%v) = %v, want roster.ErrUnavailable", c.err, got)
			}
			if !strings.Contains(got.Error(), name) || !strings.Contains(got.Error(), c.want) {
				t.Errorf("message %q does not name the database or say %q", got, c.want)
			}
			if roster.Hint(got) == "" {
				t.Errorf("no hint for %v", got)
			}
		})
	}
}

// TestConnectErrorUnavailable: a real failure to connect, pgx's own
// ConnectError, is unavailable.
func TestConnectErrorUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = pgconn.Connect(context.Background(), "postgres://roster@"+addr+"/roster?connect_timeout=5")
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("connect to a closed port: %v, want a *pgconn.ConnectError", err)
	}
	got := dbError("db", err)
	if !errors.Is(got, roster.ErrUnavailable) || !strings.Contains(got.Error(), "connection refused") {
		t.Errorf("dbError = %v, want unavailable, connection refused", got)
	}
}

// TestOtherErrorsPass: a bug stays a bug (an internal error), and a
// caller's own cancellation is not the database's fault.
func TestOtherErrorsPass(t *testing.T) {
	for _, err := range []error{
		errors.New("scan: wrong type"),
		context.Canceled,
		&pgconn.PgError{Code: "42601", Message: "syntax error"},
	} {
		if got := dbError("db", err); got != err {
			t.Errorf("dbError(%v) = %v, want it unchanged", err, got)
		}
	}
	if got := dbError("db", &pgconn.PgError{Code: "23505", Message: "duplicate key"}); !errors.Is(got, roster.ErrConflict) {
		t.Errorf("a unique violation maps to %v, want a conflict", got)
	}
}

// TestTimeoutDefaults: a URL without timeouts gets roster's defaults; one
// with its own keeps them; a malformed one is refused.
func TestTimeoutDefaults(t *testing.T) {
	t.Setenv("PGCONNECT_TIMEOUT", "")
	cfg, _, wait, err := parseURL("postgres://u@h/d")
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.ConnConfig.RuntimeParams
	if cfg.ConnConfig.ConnectTimeout != defaultConnectTimeout || p["statement_timeout"] != defaultStatementTimeout ||
		p["idle_in_transaction_session_timeout"] != defaultIdleTimeout || wait != 30*time.Second+answerGrace {
		t.Errorf("defaults: connect %v, statement_timeout %q, idle %q, wait %v", cfg.ConnConfig.ConnectTimeout,
			p["statement_timeout"], p["idle_in_transaction_session_timeout"], wait)
	}
	cfg, _, wait, err = parseURL("postgres://u@h/d?connect_timeout=2&statement_timeout=1500&idle_in_transaction_session_timeout=5min")
	if err != nil {
		t.Fatal(err)
	}
	p = cfg.ConnConfig.RuntimeParams
	if cfg.ConnConfig.ConnectTimeout != 2*time.Second || p["statement_timeout"] != "1500" ||
		p["idle_in_transaction_session_timeout"] != "5min" || wait != 1500*time.Millisecond+answerGrace {
		t.Errorf("overridden: connect %v, statement_timeout %q, idle %q, wait %v", cfg.ConnConfig.ConnectTimeout,
			p["statement_timeout"], p["idle_in_transaction_session_timeout"], wait)
	}
	// 0 turns a timeout off, and then roster waits as long as it takes.
	_, _, wait, err = parseURL("postgres://u@h/d?statement_timeout=0")
	if err != nil || wait != 0 {
		t.Errorf("statement_timeout=0: wait %v, %v; want 0", wait, err)
	}
	for _, bad := range []string{"statement_timeout=soon", "statement_timeout=5parsecs", "idle_in_transaction_session_timeout=-1"} {
		if _, _, _, err := parseURL("postgres://u@h/d?" + bad); !errors.Is(err, roster.ErrInvalid) {
			t.Errorf("%s: %v, want invalid", bad, err)
		}
	}
}

func TestParseInterval(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "250": 250 * time.Millisecond, "30s": 30 * time.Second, "5min": 5 * time.Minute,
		"2h": 2 * time.Hour, "1d": 24 * time.Hour, "10ms": 10 * time.Millisecond, "500us": 500 * time.Microsecond,
	} {
		if got, err := parseInterval(in); err != nil || got != want {
			t.Errorf("parseInterval(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
