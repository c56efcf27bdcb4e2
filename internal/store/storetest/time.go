package storetest

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

var timeTests = []test{
	{"times come back in UTC, to the microsecond", []string{"InsertUser", "UpdateUser", "InsertLink", "ConsumeLink", "RevokeLinks", "MarkSent",
		"InsertProject", "InsertToken", "TouchToken", "RevokeTokens", "InsertAudit", "ListAudit"}, testTimePrecision},
}

// utc fails the test unless tm is in UTC and the same instant as want.
func utc(t *testing.T, what string, tm *time.Time, want time.Time) {
	t.Helper()
	if tm == nil {
		t.Errorf("%s is nil, want %s", what, want.UTC().Format(time.RFC3339Nano))
		return
	}
	sameTime(t, what, *tm, want)
	if tm.Location() != time.UTC {
		t.Errorf("%s is in %s, want UTC", what, tm.Location())
	}
}

func testTimePrecision(t *testing.T, s store.Admin) {
	// Times given in another zone, with every microsecond digit set.
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	base := time.Date(2031, 12, 31, 23, 59, 58, 123457000, zone)
	old := time.Date(1999, 1, 2, 3, 4, 5, 6000, zone)
	when := func(n int) time.Time { return base.Add(time.Duration(n) * (time.Minute + time.Microsecond)) }

	u := member("ann@example.com")
	u.CreatedAt, u.UpdatedAt = old, when(1)
	uid := addUser(t, s, u)
	row := getUser(t, s, byID(uid))
	row.UpdatedAt, row.LastLoginAt, row.DeactivatedAt = when(2), ptr(when(3)), ptr(when(4))
	write(t, s, func(tx store.Tx) error { return tx.UpdateUser(t.Context(), row) })
	row = getUser(t, s, byID(uid))
	utc(t, "user CreatedAt", &row.CreatedAt, old)
	utc(t, "user UpdatedAt", &row.UpdatedAt, when(2))
	utc(t, "user LastLoginAt", row.LastLoginAt, when(3))
	utc(t, "user DeactivatedAt", row.DeactivatedAt, when(4))

	var used int64
	write(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		var err error
		if used, err = tx.InsertLink(ctx, newLink(store.LinkInvite, uid, "used", when(5), 24*time.Hour)); err != nil {
			return err
		}
		if _, err = tx.InsertLink(ctx, newLink(store.LinkReset, uid, "revoked", when(5), 24*time.Hour)); err != nil {
			return err
		}
		if _, err := tx.ConsumeLink(ctx, used, when(6)); err != nil {
			return err
		}
		if err := tx.MarkSent(ctx, used, when(7)); err != nil {
			return err
		}
		_, err = tx.RevokeLinks(ctx, uid, store.LinkReset, when(8), "test")
		return err
	})
	l := linkByHash(t, s, store.LinkInvite, "used")
	utc(t, "link CreatedAt", &l.CreatedAt, when(5))
	utc(t, "link ExpiresAt", &l.ExpiresAt, when(5).Add(24*time.Hour))
	utc(t, "link UsedAt", l.UsedAt, when(6))
	utc(t, "link SentAt", l.SentAt, when(7))
	l = linkByHash(t, s, store.LinkReset, "revoked")
	utc(t, "link RevokedAt", l.RevokedAt, when(8))

	var pid int64
	write(t, s, func(tx store.Tx) error {
		var err error
		pid, err = tx.InsertProject(t.Context(), roster.Project{Slug: "apollo"}, when(9))
		return err
	})
	p := project(t, s, "apollo")
	equal(t, "project ID", p.ID, pid)
	utc(t, "project CreatedAt", &p.CreatedAt, when(9))

	tid := addToken(t, s, uid, "ci", when(10), ptr(when(11)))
	write(t, s, func(tx store.Tx) error { return tx.TouchToken(t.Context(), tid, when(12), "") })
	tok := tokenByID(t, s, tid)
	utc(t, "token CreatedAt", &tok.CreatedAt, when(10))
	utc(t, "token ExpiresAt", tok.ExpiresAt, when(11))
	utc(t, "token LastUsedAt", tok.LastUsedAt, when(12))

	addEvents(t, s, event(when(13), "local:root", "user.create", "ann@example.com"))
	events := listAudit(t, s, store.AuditQuery{Limit: 1})
	if len(events) != 1 {
		t.Fatalf("ListAudit returned %d events", len(events))
	}
	utc(t, "audit At", &events[0].At, when(13))
	// A filter at the event's exact microsecond matches it; one
	// microsecond off does not.
	for _, c := range []struct {
		q    store.AuditQuery
		want int
	}{
		{store.AuditQuery{Since: when(13)}, 1},
		{store.AuditQuery{Until: when(13)}, 1},
		{store.AuditQuery{Since: when(13).Add(time.Microsecond)}, 0},
		{store.AuditQuery{Until: when(13).Add(-time.Microsecond)}, 0},
	} {
		c.q.Limit = 10
		if got := listAudit(t, s, c.q); len(got) != c.want {
			t.Errorf("ListAudit(since %s, until %s) returned %d events, want %d",
				c.q.Since.Format(time.RFC3339Nano), c.q.Until.Format(time.RFC3339Nano), len(got), c.want)
		}
	}
}
