package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// shortBusyTimeout makes connections opened by the test give up waiting
// for a lock after d, and restores the timeout at the end.
func shortBusyTimeout(t *testing.T, d time.Duration) {
	old := busyTimeout
	busyTimeout = int(d / time.Millisecond)
	t.Cleanup(func() { busyTimeout = old })
}

func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "roster.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// TestDiskFull: a full disk is exit 7's error, naming the store, not the
// driver's "database or disk is full (13)". SQLite's max_page_count makes
// the disk full where the test wants it.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	db, path := openTemp(t)
	db.sql.SetMaxOpenConns(1) // the pragma holds on the one connection
	var pages int
	if err := db.sql.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.sql.ExecContext(ctx, "PRAGMA max_page_count = "+strconv.Itoa(pages+1)); err != nil {
		t.Fatal(err)
	}
	err := db.Write(ctx, func(stx store.Tx) error {
		tx := stx.(*Tx)
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO settings (org_id, key, value) VALUES (1, 'big', hex(randomblob(100000)))`)
		return err
	})
	wantUnavailable(t, err, path, "the disk is full")
}

// TestLockedPastTimeout: another process holding the write lock past the
// busy timeout is exit 7's error, naming the store.
func TestLockedPastTimeout(t *testing.T) {
	shortBusyTimeout(t, 50*time.Millisecond)
	ctx := context.Background()
	db, path := openTemp(t)
	other, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(ctx, nil) // IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	wantUnavailable(t, db.Write(ctx, func(store.Tx) error { return nil }), path, "locked by another process")
}

// TestCannotOpen: a store SQLite cannot open is exit 7's error, naming it.
func TestCannotOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "missing", "roster.db")
	db, err := openStore(ctx, path, false)
	if err == nil {
		db.Close()
		t.Fatal("opened a store in a missing directory")
	}
	wantUnavailable(t, err, path, "cannot open")

	// A path through a file is the file system's error, said as plainly.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(file, "roster.db")
	_, err = Open(ctx, path)
	wantUnavailable(t, err, path, "cannot")
}

// TestWritesOfOneProcessTakeTurns: a write of this process waits for
// another of this process as long as that one takes, not just the busy
// timeout. Racing through SQLite's polling busy handler, 8 clients of one
// server lost a write under load (TestConcurrentClients: "the store is
// locked by another process", 119 members of 120).
func TestWritesOfOneProcessTakeTurns(t *testing.T) {
	shortBusyTimeout(t, 50*time.Millisecond)
	ctx := context.Background()
	db, _ := openTemp(t)
	started, done := make(chan struct{}), make(chan error)
	go func() {
		done <- db.Write(ctx, func(stx store.Tx) error {
			tx := stx.(*Tx)
			if _, err := tx.tx.ExecContext(ctx, `INSERT INTO settings (org_id, key, value) VALUES (1, 'first', '1')`); err != nil {
				return err
			}
			close(started)
			time.Sleep(300 * time.Millisecond) // six busy timeouts
			return nil
		})
	}()
	<-started
	if err := db.Write(ctx, func(stx store.Tx) error {
		tx := stx.(*Tx)
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO settings (org_id, key, value) VALUES (1, 'second', '2')`)
		return err
	}); err != nil {
		t.Errorf("second write: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("first write: %v", err)
	}

	// A write waiting its turn stops when its context does.
	hold, release := make(chan struct{}), make(chan struct{})
	go func() {
		db.Write(ctx, func(store.Tx) error { close(hold); <-release; return nil })
	}()
	<-hold
	defer close(release)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := db.Write(cctx, func(store.Tx) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a waiting write whose context ended: %v", err)
	}
}

// TestConstraintStaysConflict: mapping the environment's errors leaves a
// constraint failure a conflict.
func TestConstraintStaysConflict(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	err := db.Write(ctx, func(stx store.Tx) error {
		tx := stx.(*Tx)
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO roles (org_id, name) VALUES (1, 'owner')`)
		return err
	})
	if !errors.Is(err, roster.ErrConflict) || !strings.Contains(err.Error(), "conflict") {
		t.Errorf("duplicate role: %v; want a conflict", err)
	}
}
