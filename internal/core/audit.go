package core

import (
	"context"
	"encoding/hex"
	"sync"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// The audit log as a stream (DESIGN.md, "The audit log as a stream"):
// export and tail read it a page at a time by id, verify checks its hash
// chain, prune deletes its old events.

// auditPage is how many events StreamAudit reads to a transaction.
const auditPage = 500

// DefaultAuditPoll is how often a following StreamAudit looks for events
// written by other processes; this process's own writes wake it at once.
// Issue 20 asks a remote tail for a new event within 100 ms, whoever wrote
// it (a local command, another replica): at 500 ms that took 0.5 s
// (BenchmarkAuditFollow). A look is one indexed read of the events after
// the last id, about a millisecond, so 20 a second per follower is cheap;
// followers are few (a shipper to a SIEM, an administrator's terminal).
const DefaultAuditPoll = 50 * time.Millisecond

// WithAuditPoll sets how often a following StreamAudit looks for events
// written by other processes.
func WithAuditPoll(d time.Duration) Option { return func(c *Core) { c.auditPoll = d } }

// bell wakes whoever waits for the next write this process commits.
type bell struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next ring.
func (b *bell) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *bell) ring() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}

// ringingStore rings a bell after every write transaction that commits.
type ringingStore struct {
	store.Store
	bell *bell
}

func (s ringingStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	err := s.Store.Write(ctx, fn)
	if err == nil {
		s.bell.ring()
	}
	return err
}

func (s *service) StreamAudit(ctx context.Context, q roster.AuditStream, fn func(roster.AuditEvent) error) error {
	for {
		// Ask for the bell before reading, so that a write committed
		// after the read wakes the wait below.
		rung := s.core.bell.wait()
		var page []roster.AuditEvent
		var last int64
		err := s.read(ctx, func(o *op) error {
			if err := o.require(roster.PermAuditView); err != nil {
				return err
			}
			chain, err := o.tx.AuditChain(ctx, q.After, auditPage)
			if err != nil {
				return err
			}
			page = page[:0]
			for _, c := range chain {
				last = c.ID
				if (!q.Since.IsZero() && c.At.Before(q.Since)) || (!q.Until.IsZero() && c.At.After(q.Until)) {
					continue
				}
				e, err := c.Event()
				if err != nil {
					return err
				}
				page = append(page, e)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if last != 0 {
			q.After = last
			continue
		}
		if !q.Follow {
			return nil
		}
		if err := s.core.awaitAudit(ctx, rung); err != nil {
			return err
		}
	}
}

// awaitAudit waits for this process's next write, or for the poll
// interval, for writes of others.
func (c *Core) awaitAudit(ctx context.Context, rung <-chan struct{}) error {
	poll := c.auditPoll
	if poll <= 0 {
		poll = DefaultAuditPoll
	}
	t := time.NewTimer(poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-rung:
	case <-t.C:
	}
	return nil
}

func (s *service) VerifyAudit(ctx context.Context) (roster.AuditVerification, error) {
	var v roster.AuditVerification
	err := s.read(ctx, func(o *op) error {
		if err := o.require(roster.PermAuditView); err != nil {
			return err
		}
		var err error
		v, err = store.VerifyAudit(ctx, o.tx)
		return err
	})
	return v, err
}

func (s *service) PruneAudit(ctx context.Context, before time.Time) (roster.AuditPruneResult, error) {
	var res roster.AuditPruneResult
	err := s.writeAs(ctx, roster.PermSettingsManage, func(o *op) error {
		if err := o.require(roster.PermAuditView); err != nil {
			return err
		}
		res = roster.AuditPruneResult{Before: before}
		if before.IsZero() {
			set, err := o.settings()
			if err != nil {
				return err
			}
			keep := set["audit.retention"]
			d, err := roster.ParseDuration(keep)
			if keep == "" || keep == "forever" || err != nil {
				return roster.Errorf(roster.ErrInvalid, "audit.retention is %s: nothing to prune without --before", "forever").
					WithHint("give --before, or set a retention: roster settings set audit.retention 365d")
			}
			res.Before = o.now.Add(-d)
		}
		if res.Before.After(o.now) {
			return roster.Errorf(roster.ErrInvalid, "--before %s is in the future", res.Before.Format(time.RFC3339))
		}
		n, anchor, err := o.tx.PruneAudit(ctx, res.Before)
		if err != nil || n == 0 {
			return err
		}
		res.Deleted, res.Anchor, res.Changed = n, hex.EncodeToString(anchor), true
		// The event names the hash the first event kept chains to:
		// verify trusts the new start of the chain because of it.
		// store.PruneAction, spelt out so that the list of actions
		// (TestAuditActions) sees it.
		return o.audit("audit.prune", "", 0, map[string]any{
			"before": res.Before.UTC().Format(time.RFC3339), "deleted": n, "anchor": res.Anchor})
	})
	return res, err
}
