package storetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// writers is how many goroutines race in the concurrency tests: the 16
// concurrent accepts of R11.
const writers = 16

var concurrencyTests = []test{
	{"concurrent Writes consume a link exactly once", []string{"LinkByHash", "ConsumeLink"}, testConcurrentConsume},
	{"concurrent Writes lose no update", []string{"InsertUser", "Settings", "SetSetting", "UserCount"}, testConcurrentWriters},
	{"a Read sees one consistent snapshot while Writes commit", []string{"CountActive", "ListUsers"}, testConcurrentReaders},
}

// race runs fn in n goroutines released together and returns their
// errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

func testConcurrentConsume(t *testing.T, s store.Admin) {
	uid := addUser(t, s, member("ann@example.com"))
	addLink(t, s, newLink(store.LinkInvite, uid, "inv", t0, time.Hour))
	var won atomic.Int32
	// Each does what accepting an invitation does: find the link, see
	// that it is live, consume it. Every check passes before anyone
	// consumes; only the conditional consume decides.
	errs := race(writers, func(i int) error {
		return s.Write(context.Background(), func(tx store.Tx) error {
			ctx := context.Background()
			l, found, err := tx.LinkByHash(ctx, store.LinkInvite, []byte("sha256-of-inv"))
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("writer %d: link not found", i)
			}
			ok, err := tx.ConsumeLink(ctx, l.ID, at(time.Duration(i)*time.Second))
			if ok {
				won.Add(1)
			}
			return err
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if n := won.Load(); n != 1 {
		t.Errorf("%d of %d concurrent writes consumed the link, want exactly 1", n, writers)
	}
	if l := linkByHash(t, s, store.LinkInvite, "inv"); l.UsedAt == nil {
		t.Error("the link is not used")
	}
}

func testConcurrentWriters(t *testing.T, s store.Admin) {
	write(t, s, func(tx store.Tx) error { return tx.SetSetting(t.Context(), "counter", "0") })
	// Each inserts a user and increments a counter it reads first: a
	// lost update shows as a counter behind the number of users.
	errs := race(writers, func(i int) error {
		return s.Write(context.Background(), func(tx store.Tx) error {
			ctx := context.Background()
			if _, err := tx.InsertUser(ctx, member(fmt.Sprintf("user%02d@example.com", i))); err != nil {
				return err
			}
			set, err := tx.Settings(ctx)
			if err != nil {
				return err
			}
			n, err := strconv.Atoi(set["counter"])
			if err != nil {
				return err
			}
			return tx.SetSetting(ctx, "counter", strconv.Itoa(n+1))
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	read(t, s, func(tx store.Tx) error {
		n, err := tx.UserCount(t.Context())
		if err != nil {
			return err
		}
		equal(t, "users", n, writers)
		set, err := tx.Settings(t.Context())
		equal(t, "counter", set["counter"], strconv.Itoa(writers))
		return err
	})
	for i := range writers {
		getUser(t, s, fmt.Sprintf("user%02d@example.com", i))
	}
}

func testConcurrentReaders(t *testing.T, s store.Admin) {
	addUsers(t, s, "a@example.com", "b@example.com")
	// Half write, half read: readers always see a whole number of
	// committed writes, each of which adds two users.
	errs := race(writers, func(i int) error {
		if i%2 == 0 {
			return s.Write(context.Background(), func(tx store.Tx) error {
				for j := range 2 {
					if _, err := tx.InsertUser(context.Background(), member(fmt.Sprintf("w%02d-%d@example.com", i, j))); err != nil {
						return err
					}
				}
				return nil
			})
		}
		return s.Read(context.Background(), func(tx store.Tx) error {
			n, err := tx.CountActive(context.Background(), t0)
			if err != nil {
				return err
			}
			page, err := tx.ListUsers(context.Background(), roster.UserFilter{Limit: 1000})
			if err != nil {
				return err
			}
			if n%2 != 0 || len(page.Items) != n {
				return fmt.Errorf("reader %d saw %d active users and listed %d: a write in part, or two snapshots", i, n, len(page.Items))
			}
			return nil
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	read(t, s, func(tx store.Tx) error {
		n, err := tx.CountActive(t.Context(), t0)
		equal(t, "active users", n, 2+writers)
		return err
	})
}
