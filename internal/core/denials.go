package core

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// Refusals are audited too (DESIGN.md, "The audit log as a stream"): who
// tried what on whom, and why, as an event <action>.denied. A refused
// operation's transaction is rolled back, so its denial is written
// afterwards, in a transaction of its own, and not by the request: it is
// queued, and one writer at a time records the queue in one transaction
// per organisation. A flood of refusals thus costs the writes that
// succeed one write transaction per batch, not one per refusal; and each
// actor's denials are rate limited (a burst, then one a second), the ones
// suppressed counted in the next one recorded ("suppressed"), so that
// nobody can fill the log, or the write lock, by being refused.

// Limits of the denials recorded.
const (
	denialBurst    = 20                       // an actor's denials recorded at once
	denialEvery    = time.Second              // then one per this
	denialQueueMax = 1024                     // denials waiting to be written
	denialActors   = 10000                    // actors whose budgets are remembered
	denialTimeout  = 5 * time.Second          // to write one batch
	deniedSuffix   = ".denied"                // of a denial's action
	deniedFallback = "request" + deniedSuffix // a refusal of an unnamed operation
)

// denials is the queue of refusals waiting to be recorded.
type denials struct {
	mu         sync.Mutex
	queue      []denial
	budgets    map[string]*budget
	suppressed map[string]int // by actor key: refused but not recorded
	running    bool           // a writer drains the queue
	writing    sync.Mutex     // held while a batch is written
}

type denial struct {
	org   int64
	entry store.AuditEntry
}

// budget is a token bucket.
type budget struct {
	tokens float64
	at     time.Time
}

// WithoutDenials turns the auditing of refusals off: what a refusal costs
// without it is the benchmark's baseline (BenchmarkWritesUnderRefusals).
func WithoutDenials() Option { return func(c *Core) { c.noDenials = true } }

// refused records, if its actor's budget allows, that o was refused err.
func (c *Core) refused(ctx context.Context, o *op, err error) {
	var re *roster.Error
	if c.noDenials || o == nil || o.act == nil || !errors.As(err, &re) || !errors.Is(err, roster.ErrForbidden) {
		return
	}
	// Most refusals of a flood are only counted: the event is made for
	// the ones recorded, naming the method from the stack (deniedAction)
	// only for them.
	c.denials.add(c, actorKey(o.tx.Org(), o.act.name, o.act.via), func() denial {
		details := map[string]any{"reason": re.Error()}
		if addr := roster.ClientOf(ctx); addr != "" {
			details["client"] = addr
		}
		return denial{org: o.tx.Org(), entry: store.AuditEntry{AuditEvent: roster.AuditEvent{At: o.now, Actor: o.act.name,
			Via: o.act.via, Action: deniedAction(), Target: o.deniedTarget, Details: details},
			ActorID: o.act.id(), TargetID: o.deniedTargetID}}
	})
}

// deniedAction names the Service method being refused as an audit
// action: the action it records when it succeeds, with .denied.
func deniedAction() string {
	pcs := make([]uintptr, 16)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		// github.com/roster-dev/roster/internal/core.(*service).DeactivateUser
		if _, method, ok := strings.Cut(f.Function, ".(*service)."); ok {
			if a, ok := methodActions[method]; ok {
				return a + deniedSuffix
			}
		}
		if !more {
			return deniedFallback
		}
	}
}

// methodActions are the audit actions of the Service's methods; reads
// are named by what they read.
var methodActions = map[string]string{
	"AcceptInvitation": "invite.accept", "AddMembers": "project.member.add", "Apply": "users.apply",
	"ArchiveProject": "project.archive", "AssignRole": "role.assign", "Can": "user.can",
	"ChangePassword": "account.password", "CreateInvitation": "invite.create", "CreateOrg": "org.create",
	"CreatePermission": "permission.create", "CreateProject": "project.create", "CreateResetLink": "user.reset_link",
	"CreateRole": "role.create", "CreateToken": "token.create", "CreateUser": "user.create",
	"DeactivateUser": "user.deactivate", "DeleteOrg": "org.delete", "DeletePermission": "permission.delete",
	"DeleteProject": "project.delete", "DeleteRole": "role.delete", "DeleteUser": "user.delete",
	"Export": "users.export", "GetOrg": "org.show", "GetProject": "project.show", "GetRole": "role.show",
	"GetSettings": "settings.show", "GetUser": "user.show", "Import": "users.import", "ListAudit": "audit.list",
	"ListInvitations": "invite.list", "ListOrgs": "org.list", "ListPermissions": "permission.list",
	"ListProjects": "project.list", "ListRoles": "role.list", "ListTokens": "token.list", "ListUsers": "user.list",
	"PruneAudit": "audit.prune", "ReactivateUser": "user.reactivate", "RemoveMembers": "project.member.remove",
	"ResendInvitation": "invite.resend", "RevokeInvitation": "invite.revoke", "RevokeToken": "token.revoke",
	"RotateToken": "token.rotate", "SetPassword": "user.set_password", "SetProjects": "user.set_projects",
	"SetRoles": "user.set_role", "SetSetting": "settings.set", "StreamAudit": "audit.stream",
	"UnassignRole": "role.unassign", "UpdateOrg": "org.update", "UpdateProject": "project.update",
	"UpdateRole": "role.update", "UpdateUser": "user.update", "VerifyAudit": "audit.verify",
}

// add queues the denial made by the actor key if their budget
// allows, and makes sure a writer runs.
func (d *denials) add(c *Core, key string, made func() denial) {
	now := c.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.budgets == nil || len(d.budgets) > denialActors {
		d.budgets, d.suppressed = map[string]*budget{}, map[string]int{}
	}
	b := d.budgets[key]
	if b == nil {
		b = &budget{tokens: denialBurst, at: now}
		d.budgets[key] = b
	}
	b.tokens = min(denialBurst, b.tokens+now.Sub(b.at).Seconds()/denialEvery.Seconds())
	b.at = now
	if b.tokens < 1 || len(d.queue) >= denialQueueMax {
		d.suppressed[key]++
		return
	}
	b.tokens--
	x := made()
	if n := d.suppressed[key]; n > 0 {
		x.entry.Details["suppressed"] = n
		delete(d.suppressed, key)
	}
	d.queue = append(d.queue, x)
	if !d.running {
		d.running = true
		go d.drain(c)
	}
}

func actorKey(org int64, actor, via string) string {
	return strconv.FormatInt(org, 10) + "\x00" + actor + "\x00" + via
}

// drain writes the queue until it is empty.
func (d *denials) drain(c *Core) {
	for {
		d.mu.Lock()
		batch := d.queue
		d.queue = nil
		if len(batch) == 0 {
			d.running = false
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
		d.write(c, batch)
	}
}

// write records a batch, one transaction per organisation. A batch that
// cannot be written is lost: a denial is never worth failing for.
func (d *denials) write(c *Core, batch []denial) {
	d.writing.Lock()
	defer d.writing.Unlock()
	d.writeLocked(c, batch)
}

func (d *denials) writeLocked(c *Core, batch []denial) {
	ctx, cancel := context.WithTimeout(context.Background(), denialTimeout)
	defer cancel()
	byOrg := map[int64][]store.AuditEntry{}
	var orgs []int64
	for _, x := range batch {
		if _, ok := byOrg[x.org]; !ok {
			orgs = append(orgs, x.org)
		}
		byOrg[x.org] = append(byOrg[x.org], x.entry)
	}
	for _, org := range orgs {
		_ = c.db.Write(store.WithOrg(ctx, org), func(tx store.Tx) error { return tx.InsertAudits(ctx, byOrg[org]) })
	}
}

// FlushDenials writes the refusals still queued, and waits for a batch
// being written: a process about to exit (the CLI) calls it so that its
// refusal is recorded.
func (c *Core) FlushDenials() {
	d := &c.denials
	d.writing.Lock() // after a batch in flight
	defer d.writing.Unlock()
	d.mu.Lock()
	batch := d.queue
	d.queue = nil
	d.mu.Unlock()
	d.writeLocked(c, batch)
}
