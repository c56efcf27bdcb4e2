package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/store"
)

var idempotencyTests = []test{
	{"an outcome is found by its user and key, as recorded", []string{"Outcome", "InsertOutcome"}, testOutcome},
	{"a second outcome for a user's key is not recorded", []string{"InsertOutcome"}, testOutcomeOnce},
	{"an outcome commits or rolls back with its write", []string{"InsertOutcome"}, testOutcomeWithWrite},
	{"pruning deletes the outcomes recorded before a time", []string{"PruneOutcomes"}, testPruneOutcomes},
	{"a savepoint undoes what its function wrote when it fails, and the transaction goes on", []string{"Savepoint"}, testSavepoint},
	{"a savepoint recovers the transaction after a failed statement", []string{"Savepoint"}, testSavepointAfterError},
}

func outcome(user int64, key string, status int, body string) store.Outcome {
	return store.Outcome{UserID: user, KeyHash: []byte("key-" + key), Request: []byte("request-" + key),
		Status: status, Body: []byte(body), CreatedAt: t0}
}

func findOutcome(t *testing.T, s store.Store, user int64, key string) (store.Outcome, bool) {
	t.Helper()
	var o store.Outcome
	var found bool
	read(t, s, func(tx store.Tx) error {
		var err error
		o, found, err = tx.Outcome(t.Context(), user, []byte("key-"+key))
		return err
	})
	return o, found
}

func insertOutcome(t *testing.T, s store.Store, o store.Outcome) bool {
	t.Helper()
	var inserted bool
	write(t, s, func(tx store.Tx) error {
		var err error
		inserted, err = tx.InsertOutcome(t.Context(), o)
		return err
	})
	return inserted
}

func testOutcome(t *testing.T, s store.Admin) {
	body := "{\"id\": 1}\n\x00\xff" // bodies are bytes, not text
	if !insertOutcome(t, s, outcome(7, "a", 201, body)) {
		t.Fatal("InsertOutcome of a new key reported nothing inserted")
	}
	insertOutcome(t, s, outcome(0, "a", 200, "anonymous")) // another user, the same key
	o, found := findOutcome(t, s, 7, "a")
	if !found {
		t.Fatal("Outcome: not found")
	}
	equal(t, "Status", o.Status, 201)
	equal(t, "Body", string(o.Body), body)
	equal(t, "Request", string(o.Request), "request-a")
	equal(t, "KeyHash", string(o.KeyHash), "key-a")
	equal(t, "UserID", o.UserID, int64(7))
	equal(t, "CreatedAt", o.CreatedAt, t0)
	if o, found := findOutcome(t, s, 0, "a"); !found || string(o.Body) != "anonymous" {
		t.Errorf("user 0's outcome for the same key: found %v, body %q", found, o.Body)
	}
	if _, found := findOutcome(t, s, 8, "a"); found {
		t.Error("another user's key found user 7's outcome")
	}
	if _, found := findOutcome(t, s, 7, "b"); found {
		t.Error("another key found the outcome of key a")
	}
}

func testOutcomeOnce(t *testing.T, s store.Admin) {
	insertOutcome(t, s, outcome(7, "a", 200, "first"))
	if insertOutcome(t, s, outcome(7, "a", 409, "second")) {
		t.Error("InsertOutcome of a key already recorded reported an insert")
	}
	if o, _ := findOutcome(t, s, 7, "a"); string(o.Body) != "first" || o.Status != 200 {
		t.Errorf("after a second insert the outcome is %d %q, want the first", o.Status, o.Body)
	}
}

func testOutcomeWithWrite(t *testing.T, s store.Admin) {
	boom := errors.New("boom")
	err := s.Write(t.Context(), func(tx store.Tx) error {
		if _, err := tx.InsertUser(t.Context(), member("ann@example.com")); err != nil {
			return err
		}
		if _, err := tx.InsertOutcome(t.Context(), outcome(1, "lost", 200, "ann")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want the function's error", err)
	}
	if _, found := findOutcome(t, s, 1, "lost"); found {
		t.Error("the outcome of a write rolled back was kept")
	}
	write(t, s, func(tx store.Tx) error {
		if _, err := tx.InsertUser(t.Context(), member("ann@example.com")); err != nil {
			return err
		}
		_, err := tx.InsertOutcome(t.Context(), outcome(1, "kept", 200, "ann"))
		return err
	})
	if _, found := findOutcome(t, s, 1, "kept"); !found {
		t.Error("the outcome of a committed write is missing")
	}
}

func testPruneOutcomes(t *testing.T, s store.Admin) {
	old, edge, fresh := outcome(1, "old", 200, ""), outcome(1, "edge", 200, ""), outcome(1, "fresh", 200, "")
	old.CreatedAt, edge.CreatedAt, fresh.CreatedAt = at(-25*time.Hour), at(-24*time.Hour), at(-time.Hour)
	for _, o := range []store.Outcome{old, edge, fresh} {
		insertOutcome(t, s, o)
	}
	var n int
	write(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.PruneOutcomes(t.Context(), at(-24*time.Hour))
		return err
	})
	equal(t, "pruned", n, 1)
	for key, want := range map[string]bool{"old": false, "edge": true, "fresh": true} {
		if _, found := findOutcome(t, s, 1, key); found != want {
			t.Errorf("outcome %s found %v after pruning, want %v", key, found, want)
		}
	}
}

func testSavepoint(t *testing.T, s store.Admin) {
	boom := errors.New("boom")
	write(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		if _, err := tx.InsertUser(ctx, member("ann@example.com")); err != nil {
			return err
		}
		err := tx.Savepoint(ctx, func(tx store.Tx) error {
			if _, err := tx.InsertUser(ctx, member("bob@example.com")); err != nil {
				return err
			}
			if err := tx.SetSetting(ctx, "seats", "9"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("Savepoint = %v, want the function's error", err)
		}
		if id, err := tx.EmailTaken(ctx, "bob@example.com"); err != nil || id != 0 {
			t.Errorf("after the failed savepoint bob is %d, %v; want gone", id, err)
		}
		// Nested, and this one succeeds.
		return tx.Savepoint(ctx, func(tx store.Tx) error {
			if _, err := tx.InsertUser(ctx, member("carol@example.com")); err != nil {
				return err
			}
			return tx.Savepoint(ctx, func(tx store.Tx) error {
				_, err := tx.InsertOutcome(ctx, outcome(1, "a", 200, "carol"))
				return err
			})
		})
	})
	for email, want := range map[string]bool{"ann@example.com": true, "bob@example.com": false, "carol@example.com": true} {
		var id int64
		read(t, s, func(tx store.Tx) error {
			var err error
			id, err = tx.EmailTaken(t.Context(), email)
			return err
		})
		if (id != 0) != want {
			t.Errorf("%s stored: %v, want %v", email, id != 0, want)
		}
	}
	var set map[string]string
	read(t, s, func(tx store.Tx) error {
		var err error
		set, err = tx.Settings(t.Context())
		return err
	})
	if _, ok := set["seats"]; ok {
		t.Error("a setting written in the failed savepoint was kept")
	}
	if o, found := findOutcome(t, s, 1, "a"); !found || !bytes.Equal(o.Body, []byte("carol")) {
		t.Error("the outcome written in a nested savepoint is missing")
	}
}

func testSavepointAfterError(t *testing.T, s store.Admin) {
	addUser(t, s, member("ann@example.com"))
	write(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		// A constraint violation: PostgreSQL refuses every later statement
		// of a transaction that met one, unless a savepoint undoes it.
		err := tx.Savepoint(ctx, func(tx store.Tx) error {
			_, err := tx.InsertUser(ctx, member("ann@example.com"))
			return err
		})
		if err == nil {
			t.Error("inserting ann twice succeeded")
		}
		_, err = tx.InsertUser(ctx, member("bob@example.com"))
		return err
	})
	var n int
	read(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.UserCount(t.Context())
		return err
	})
	equal(t, "users", n, 2)
}
