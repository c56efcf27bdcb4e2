package storetest

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

var chainTests = []test{
	{"AuditChain reads events oldest first, each chained to the one before in its organisation",
		[]string{"AuditChain", "InsertAudit", "InsertAudits"}, testAuditChain},
	{"PruneAudit deletes old events but the newest and keeps the chain verifiable",
		[]string{"PruneAudit"}, testPruneAudit},
}

// chainOf reads the whole chain of org.
func chainOf(t *testing.T, s store.Store, org int64) []store.ChainedEvent {
	t.Helper()
	var out []store.ChainedEvent
	readIn(t, s, org, func(tx store.Tx) error {
		var after int64
		for range 1000 {
			page, err := tx.AuditChain(t.Context(), after, 2)
			if err != nil || len(page) == 0 {
				return err
			}
			out = append(out, page...)
			after = page[len(page)-1].ID
		}
		t.Fatal("AuditChain never ended")
		return nil
	})
	return out
}

// verify runs store.VerifyAudit in org.
func verify(t *testing.T, s store.Store, org int64) roster.AuditVerification {
	t.Helper()
	var v roster.AuditVerification
	readIn(t, s, org, func(tx store.Tx) error {
		var err error
		v, err = store.VerifyAudit(t.Context(), tx)
		return err
	})
	return v
}

func testAuditChain(t *testing.T, s store.Admin) {
	b := addOrg(t, s, "neighbour")
	base := len(chainOf(t, s, store.SystemOrg))
	detailed := event(t0, "local:root", "user.set_role", "ann@example.com")
	detailed.Details = map[string]any{"to": []string{"admin"}, "count": 3, "note": "<&>", "nested": map[string]any{"b": 1, "a": 2.5}}
	addEvents(t, s, detailed)
	writeIn(t, s, b, func(tx store.Tx) error {
		return tx.InsertAudit(t.Context(), event(at(time.Second), "local:root", "b.one", ""))
	})
	write(t, s, func(tx store.Tx) error {
		return tx.InsertAudits(t.Context(), []store.AuditEntry{
			event(at(2*time.Second), "local:root", "a.two", ""),
			event(at(2*time.Second), "local:root", "a.three", ""),
		})
	})
	got := chainOf(t, s, store.SystemOrg)[base:]
	if len(got) != 3 {
		t.Fatalf("AuditChain returned %d new events, want 3", len(got))
	}
	for i, e := range got {
		sum, err := e.Sum()
		if err != nil || !bytes.Equal(sum, e.Hash) || len(e.Hash) != 32 {
			t.Errorf("event %d (%s): hash %x, want %x (%v)", e.ID, e.Action, e.Hash, sum, err)
		}
		if e.Org != store.SystemOrg {
			t.Errorf("event %d: org %d, want %d", e.ID, e.Org, store.SystemOrg)
		}
		if i > 0 && (!bytes.Equal(e.Prev, got[i-1].Hash) || e.ID <= got[i-1].ID) {
			t.Errorf("event %d does not follow event %d in the chain", e.ID, got[i-1].ID)
		}
	}
	equal(t, "actions", []string{got[0].Action, got[1].Action, got[2].Action}, []string{"user.set_role", "a.two", "a.three"})
	// The neighbour's event is in its own chain, which starts afresh.
	nb := chainOf(t, s, b)
	if len(nb) != 1 || nb[0].Action != "b.one" || len(nb[0].Prev) != 0 {
		t.Errorf("neighbour's chain = %+v, want its one event, first of its chain", nb)
	}
	for _, org := range []int64{store.SystemOrg, b} {
		if v := verify(t, s, org); !v.Intact {
			t.Errorf("VerifyAudit in %d: %+v, want intact", org, v)
		}
	}
}

func testPruneAudit(t *testing.T, s store.Admin) {
	write(t, s, func(tx store.Tx) error {
		n, anchor, err := tx.PruneAudit(t.Context(), at(time.Hour))
		if n != 0 || anchor != nil {
			t.Errorf("PruneAudit of an empty log = %d, %x", n, anchor)
		}
		return err
	})
	addEvents(t, s,
		event(t0, "local:root", "a.one", ""),
		event(at(time.Minute), "local:root", "a.two", ""),
		event(at(2*time.Minute), "local:root", "a.three", ""),
	)
	var n int
	var anchor []byte
	write(t, s, func(tx store.Tx) error {
		var err error
		if n, anchor, err = tx.PruneAudit(t.Context(), at(time.Minute)); err != nil {
			return err
		}
		// What audit prune does: an event that names the anchor.
		e := event(at(3*time.Minute), "local:root", store.PruneAction, "")
		e.Details = map[string]any{"anchor": hex.EncodeToString(anchor), "deleted": n}
		return tx.InsertAudit(t.Context(), e)
	})
	if n < 1 {
		t.Fatalf("PruneAudit deleted %d events, want at least a.one", n)
	}
	got := chainOf(t, s, store.SystemOrg)
	equal(t, "kept", []string{got[0].Action, got[1].Action, got[2].Action}, []string{"a.two", "a.three", store.PruneAction})
	if !bytes.Equal(got[0].Prev, anchor) || len(anchor) == 0 {
		t.Errorf("anchor %x, want the first kept event's previous hash %x", anchor, got[0].Prev)
	}
	if v := verify(t, s, store.SystemOrg); !v.Intact || v.FirstID != got[0].ID {
		t.Errorf("VerifyAudit after a prune: %+v, want intact from %d", v, got[0].ID)
	}
	// Everything old goes but the newest event, which the next chains to.
	write(t, s, func(tx store.Tx) error {
		_, _, err := tx.PruneAudit(t.Context(), at(24*time.Hour))
		return err
	})
	if got := chainOf(t, s, store.SystemOrg); len(got) != 1 || got[0].Action != store.PruneAction {
		t.Errorf("after pruning everything: %d events, want the newest only", len(got))
	}
	// Without a prune event naming it, a log that starts late is not intact.
	if v := verify(t, s, store.SystemOrg); v.Intact || v.Problem != "removed" {
		t.Errorf("VerifyAudit with the start removed unrecorded: %+v, want removed", v)
	}
}

// Tampering names a kind of change made straight in the database, behind
// roster's back, in SQL the adapter's test runs: ? marks the values.
type Tampering func(t *testing.T, query string, args ...any)

// RunTamper checks that store.VerifyAudit names the first event changed,
// removed or inserted by statements made straight in the database
// by the Tampering open gives with each store. Each adapter's tests run it
// with a connection of their own: the conformance suite has none.
func RunTamper(t *testing.T, open func(t *testing.T) (store.Admin, Tampering)) {
	// Organisation A's events are 1, 2, 4, 5 of its chain's ids; the
	// neighbour's event sits between 2 and 4.
	seed := func(t *testing.T, s store.Admin) (ids []int64, neighbourID int64) {
		b := addOrg(t, s, "neighbour")
		addEvents(t, s, event(t0, "local:root", "a.one", "x"), event(at(time.Minute), "local:root", "a.two", "y"))
		writeIn(t, s, b, func(tx store.Tx) error {
			return tx.InsertAudit(t.Context(), event(at(2*time.Minute), "local:root", "b.one", ""))
		})
		addEvents(t, s, event(at(3*time.Minute), "local:root", "a.three", "z"), event(at(4*time.Minute), "local:root", "a.four", ""))
		for _, e := range chainOf(t, s, store.SystemOrg) {
			ids = append(ids, e.ID)
		}
		return ids, chainOf(t, s, b)[0].ID
	}
	cases := []struct {
		name    string
		tamper  func(x Tampering, ids []int64, nb int64)
		at      func(ids []int64, nb int64) int64
		problem string
	}{
		{"UPDATE of an event's target", func(x Tampering, ids []int64, _ int64) {
			x(t, `UPDATE audit SET target = 'mallory@example.com' WHERE id = ?`, ids[len(ids)-3])
		}, func(ids []int64, _ int64) int64 { return ids[len(ids)-3] }, "changed"},
		{"UPDATE of an event's details", func(x Tampering, ids []int64, _ int64) {
			x(t, `UPDATE audit SET details = '{"forged":true}' WHERE id = ?`, ids[len(ids)-1])
		}, func(ids []int64, _ int64) int64 { return ids[len(ids)-1] }, "changed"},
		{"DELETE of an event", func(x Tampering, ids []int64, _ int64) {
			x(t, `DELETE FROM audit WHERE id = ?`, ids[len(ids)-2])
		}, func(ids []int64, _ int64) int64 { return ids[len(ids)-1] }, "removed"},
		{"DELETE of the first events", func(x Tampering, ids []int64, _ int64) {
			x(t, `DELETE FROM audit WHERE id <= ?`, ids[len(ids)-3])
		}, func(ids []int64, _ int64) int64 { return ids[len(ids)-2] }, "removed"},
		{"INSERT of an event between two", func(x Tampering, ids []int64, nb int64) {
			x(t, `DELETE FROM audit WHERE id = ?`, nb)
			x(t, `INSERT INTO audit (id, org_id, at, actor, via, action, target, details, hash)
				SELECT ?, org_id, at, actor, via, 'user.delete', target, details, hash FROM audit WHERE id = ?`, nb, ids[len(ids)-3])
		}, func(_ []int64, nb int64) int64 { return nb }, "inserted"},
		{"INSERT of an event at the end", func(x Tampering, ids []int64, nb int64) {
			x(t, `INSERT INTO audit (id, org_id, at, actor, via, action, target, details)
				SELECT id + 100, org_id, at, actor, via, 'user.delete', target, details FROM audit WHERE id = ?`, ids[len(ids)-1])
		}, func(ids []int64, _ int64) int64 { return ids[len(ids)-1] + 100 }, "inserted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, x := open(t)
			ids, nb := seed(t, s)
			if v := verify(t, s, store.SystemOrg); !v.Intact || v.Events != len(ids) {
				t.Fatalf("before tampering: %+v, want intact with %d events", v, len(ids))
			}
			c.tamper(x, ids, nb)
			v := verify(t, s, store.SystemOrg)
			if want := c.at(ids, nb); v.Intact || v.BrokenAt != want || v.Problem != c.problem {
				t.Errorf("VerifyAudit = %+v, want event %d %s", v, want, c.problem)
			}
			if v.Message == "" {
				t.Error("VerifyAudit gave no message")
			}
		})
	}
}
