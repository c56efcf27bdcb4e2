package core

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

// countingStore counts a store's transactions: Read, which a follower
// reads its events in, and Lookup, which the watch looks in. At the
// lookups'th Lookup it closes looked.
type countingStore struct {
	store.Store
	reads, lookups atomic.Int64
	at             int64
	looked         chan struct{}
}

func (s *countingStore) Read(ctx context.Context, fn func(store.Tx) error) error {
	s.reads.Add(1)
	return s.Store.Read(ctx, fn)
}

func (s *countingStore) Lookup(ctx context.Context, fn func(store.Tx) error) error {
	if s.lookups.Add(1) == s.at {
		close(s.looked)
	}
	return s.Store.Lookup(ctx, fn)
}

// TestFollowersShareOneWatch: the followers of an organisation's log look
// for other processes' events through one watch, a look a poll for all
// of them, not a read each a poll; an event another process writes still
// reaches every one; and the watch stops with its last follower.
func TestFollowersShareOneWatch(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "roster.db")
	open := func() store.Admin {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	counted := &countingStore{Store: open(), at: 200, looked: make(chan struct{})}
	c := New(counted, WithAuditPoll(time.Millisecond))
	admin := c.As(Actor{Name: "local:test"})
	if _, err := admin.Init(ctx, roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	start, err := admin.ListAudit(ctx, roster.AuditFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}

	const followers = 20
	fctx, stop := context.WithCancel(ctx)
	got := make(chan string, followers)
	done := make(chan error, followers)
	for range followers {
		go func() {
			done <- admin.StreamAudit(fctx, roster.AuditStream{After: start[0].ID, Follow: true}, func(e roster.AuditEvent) error {
				got <- e.Target
				return nil
			})
		}()
	}
	select {
	case <-counted.looked: // 200 polls of 1 ms at least
	case <-time.After(time.Minute):
		t.Fatal("the watch did not look 200 times in a minute")
	}
	// Another process: its write does not ring this one's bell.
	other := New(open()).As(Actor{Name: "local:test"})
	if _, err := other.CreateUser(ctx, roster.CreateUser{Email: "ann@example.com", Roles: []string{roster.RoleMember}}); err != nil {
		t.Fatal(err)
	}
	for range followers {
		select {
		case target := <-got:
			if target != "ann@example.com" {
				t.Fatalf("a follower was given an event about %q", target)
			}
		case <-time.After(time.Minute):
			t.Fatal("a follower did not see another process's event within a minute")
		}
	}
	// Each follower read a handful of times (its first read, its read
	// once watched, a read at each ring and after each event), not once a
	// poll: 20 followers reading every poll would have read 4,000 times.
	if reads := counted.reads.Load(); reads > followers*8 {
		t.Errorf("%d followers read %d times in %d polls; want at most %d", followers, reads, counted.lookups.Load(), followers*8)
	}
	stop()
	for range followers {
		if err := <-done; err == nil {
			t.Error("a follower returned no error when cancelled")
		}
	}
	c.watches.mu.Lock()
	defer c.watches.mu.Unlock()
	if len(c.watches.m) != 0 {
		t.Errorf("watches left after the last follower: %v", c.watches.m)
	}
}
