package contract

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
)

var auditCases = []struct {
	name string
	fn   func(*testing.T, Env)
}{
	{"audit stream: every event once, oldest first, resumable by id", testAuditStream},
	{"audit stream follows new events", testAuditFollow},
	{"audit verify and prune keep the chain verifiable", testAuditPrune},
	{"audit stream, verify and prune need their permissions", testAuditPermissions},
}

// streamed collects what StreamAudit gives without following.
func streamed(t *testing.T, s roster.Service, q roster.AuditStream) []roster.AuditEvent {
	t.Helper()
	var out []roster.AuditEvent
	if err := s.StreamAudit(ctx, q, func(e roster.AuditEvent) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func ids(events []roster.AuditEvent) []int64 {
	out := []int64{}
	for _, e := range events {
		out = append(out, e.ID)
	}
	return out
}

func testAuditStream(t *testing.T, e Env) {
	a := e.Admin()
	for _, email := range []string{"s1@example.com", "s2@example.com", "s3@example.com"} {
		create(t, a, email)
	}
	listed := must(a.ListAudit(ctx, roster.AuditFilter{Limit: 1000}))(t)
	slices.Reverse(listed)
	all := streamed(t, a, roster.AuditStream{})
	if !slices.Equal(ids(all), ids(listed)) {
		t.Fatalf("stream ids %v, want the log's %v oldest first", ids(all), ids(listed))
	}
	if last := all[len(all)-1]; last.Action != "user.create" || last.Target != "s3@example.com" {
		t.Errorf("last event %+v, want the creation of s3", last)
	}
	// Resuming after an id gives exactly the rest.
	mid := all[len(all)-2].ID
	equalIDs(t, "after", ids(streamed(t, a, roster.AuditStream{After: mid})), ids(all[len(all)-1:]))
	// --since and --until select by time.
	e.Advance(time.Hour)
	create(t, a, "later@example.com")
	since := streamed(t, a, roster.AuditStream{Since: time.Now().Add(30 * time.Minute)})
	if len(since) != 1 || since[0].Target != "later@example.com" {
		t.Errorf("since half an hour from the first events: %v, want the later creation only", ids(since))
	}
	until := streamed(t, a, roster.AuditStream{Until: time.Now().Add(30 * time.Minute)})
	equalIDs(t, "until", ids(until), ids(all))
}

func equalIDs(t *testing.T, what string, got, want []int64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: ids %v, want %v", what, got, want)
	}
}

func testAuditFollow(t *testing.T, e Env) {
	a := e.Admin()
	start := streamed(t, a, roster.AuditStream{})
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan roster.AuditEvent, 16)
	done := make(chan error, 1)
	go func() {
		done <- a.StreamAudit(fctx, roster.AuditStream{After: start[len(start)-1].ID, Follow: true},
			func(ev roster.AuditEvent) error { got <- ev; return nil })
	}()
	for _, email := range []string{"f1@example.com", "f2@example.com"} {
		create(t, a, email)
		select {
		case ev := <-got:
			if ev.Target != email || ev.Action != "user.create" {
				t.Fatalf("followed event %+v, want the creation of %s", ev, email)
			}
		case err := <-done:
			t.Fatalf("the stream ended: %v", err)
		case <-time.After(30 * time.Second): // a guard against a hang, not a wait for time
			t.Fatalf("no event followed the creation of %s", email)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the stream did not end when its context did")
	}
}

func testAuditPrune(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "old@example.com")
	if v := must(a.VerifyAudit(ctx))(t); !v.Intact || v.Events < 2 {
		t.Fatalf("verify of a fresh log: %+v, want intact", v)
	}
	_, err := a.PruneAudit(ctx, time.Time{})
	wantErr(t, err, roster.ErrInvalid, "prune with the default retention, forever")
	e.Advance(72 * time.Hour)
	create(t, a, "new@example.com")
	must(a.SetSetting(ctx, "audit.retention", "2d"))(t)
	res := must(a.PruneAudit(ctx, time.Time{}))(t)
	if res.Deleted < 2 || res.Anchor == "" || !res.Changed {
		t.Fatalf("prune: %+v, want the old events deleted and an anchor", res)
	}
	all := streamed(t, a, roster.AuditStream{})
	for _, ev := range all {
		if ev.Target == "old@example.com" {
			t.Errorf("event %d about old@example.com outlived the prune", ev.ID)
		}
	}
	if last := all[len(all)-1]; last.Action != "audit.prune" || last.Details["anchor"] != res.Anchor {
		t.Errorf("last event %+v, want audit.prune naming the anchor %s", last, res.Anchor)
	}
	v := must(a.VerifyAudit(ctx))(t)
	if !v.Intact || v.FirstID != all[0].ID || v.LastID != all[len(all)-1].ID || v.Events != len(all) {
		t.Errorf("verify after prune: %+v, want intact over %d events from %d", v, len(all), all[0].ID)
	}
	// Nothing older: nothing changes.
	again := must(a.PruneAudit(ctx, time.Time{}))(t)
	if again.Deleted != 0 || again.Changed {
		t.Errorf("second prune: %+v, want nothing deleted", again)
	}
}

func testAuditPermissions(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "m@example.com", "member")
	create(t, a, "dev@example.com", "developer")
	m := e.As("m@example.com")
	err := m.StreamAudit(ctx, roster.AuditStream{}, func(roster.AuditEvent) error { return nil })
	wantErr(t, err, roster.ErrForbidden, "stream without audit.view")
	_, err = m.VerifyAudit(ctx)
	wantErr(t, err, roster.ErrForbidden, "verify without audit.view")
	dev := e.As("dev@example.com")
	if v := must(dev.VerifyAudit(ctx))(t); !v.Intact {
		t.Errorf("verify as a developer: %+v", v)
	}
	_, err = dev.PruneAudit(ctx, time.Now())
	wantErr(t, err, roster.ErrForbidden, "prune without settings.manage")
}
