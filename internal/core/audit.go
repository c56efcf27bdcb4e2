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
// (BenchmarkAuditFollow). A look is one indexed read of an organisation's
// newest event, made for all of its followers at once (auditWatch), so
// that 20 a second stay cheap however many follow.
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
	var watch *auditWatch // the organisation's, once following
	var org int64
	for {
		// Ask for the bells before reading, so that a write committed
		// after the read wakes the wait below.
		rung := s.core.bell.wait()
		var elsewhere <-chan struct{}
		if watch != nil {
			elsewhere = watch.bell.wait()
		}
		var page []roster.AuditEvent
		var last int64
		err := s.read(ctx, func(o *op) error {
			if err := o.require(roster.PermAuditView); err != nil {
				return err
			}
			org = o.tx.Org()
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
		if watch == nil {
			// Read again once watched: what was written before the
			// watch began is read then, anything after rings.
			var leave func()
			watch, leave = s.core.watches.join(s.core, org)
			defer leave()
			continue
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-rung:
		case <-elsewhere:
		}
	}
}

// auditWatch looks for the events other processes write to one
// organisation's log, for all of its followers at once: one look a poll,
// rather than a read a follower each poll. It rings its bell when the
// organisation's newest event changes, or a look fails, so that the
// followers read (and meet the failure themselves).
type auditWatch struct {
	bell      bell
	followers int
	stop      context.CancelFunc
}

// auditWatches are the watches of the organisations followed now.
type auditWatches struct {
	mu sync.Mutex
	m  map[int64]*auditWatch
}

// join adds a follower to org's watch, starting it for the first; leave
// removes the follower, stopping the watch with the last.
func (ws *auditWatches) join(c *Core, org int64) (w *auditWatch, leave func()) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.m == nil {
		ws.m = map[int64]*auditWatch{}
	}
	w = ws.m[org]
	if w == nil {
		ctx, stop := context.WithCancel(context.Background())
		w = &auditWatch{stop: stop}
		ws.m[org] = w
		go w.run(ctx, c, org)
	}
	w.followers++
	return w, func() {
		ws.mu.Lock()
		defer ws.mu.Unlock()
		if w.followers--; w.followers == 0 {
			w.stop()
			delete(ws.m, org)
		}
	}
}

// run looks at org's newest event every poll until stopped. Its first
// look rings whatever it finds: a follower joins after its last read.
func (w *auditWatch) run(ctx context.Context, c *Core, org int64) {
	poll := c.auditPoll
	if poll <= 0 {
		poll = DefaultAuditPoll
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	newest := int64(-1)
	for {
		var head int64
		err := c.db.Lookup(ctx, func(tx store.Tx) error {
			events, err := tx.In(org).ListAudit(ctx, store.AuditQuery{Limit: 1})
			if len(events) > 0 {
				head = events[0].ID
			}
			return err
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil || head != newest {
			newest = head
			w.bell.ring()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
