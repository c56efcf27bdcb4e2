// Package core implements roster.Service over the SQLite store: it resolves
// who is acting, checks permissions and rules R1–R13 inside the write
// transaction, and writes an audit event with every change.
package core

import (
	"context"
	"errors"
	"maps"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/roster-dev/roster/internal/mail"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// Core holds the store, the clock and the mailer; As makes a Service for
// one principal.
type Core struct {
	db   store.Store
	now  func() time.Time
	send Mailer
	// host holds the host settings (R16) given to this process, by roster
	// serve's flags, environment or config file; they win over the stored
	// ones.
	host map[string]string

	// server is set in roster serve: its callers are remote, so host
	// settings are neither set nor read through it (R16), and mail
	// authenticates with mailPassword, never with mail.password_file.
	server       bool
	mailPassword string

	catalog catalogCache

	// bell rings at every write committed, waking audit tails; auditPoll
	// is how often they look for other processes' writes.
	bell      *bell
	auditPoll time.Duration
	watches   auditWatches
	// denials are the refusals waiting to be audited; noDenials turns
	// their auditing off.
	denials   denials
	noDenials bool
	// providers are the identity providers the host offers, by name.
	providers []string
	// asking admits the checks writeAs makes before the write lock, a
	// few at a time, after the writes in progress (see ask).
	asking chan struct{}
	writes writesFirst
}

// Mailer delivers one message: mail.Send, or a stand-in in tests.
type Mailer func(ctx context.Context, cfg mail.Config, m mail.Message) error

// WithBaseURL makes links use url instead of the base_url setting, as
// roster serve --base-url does.
func WithBaseURL(url string) Option {
	return WithHostSettings(map[string]string{"base_url": url})
}

// WithHostSettings gives host settings (R16) that win over the stored
// ones: roster serve's flags, environment and config file. Empty values
// are not given.
func WithHostSettings(set map[string]string) Option {
	return func(c *Core) {
		for k, v := range set {
			if v == "" {
				continue
			}
			if c.host == nil {
				c.host = map[string]string{}
			}
			c.host[k] = v
		}
	}
}

// WithServer makes a Core for roster serve: host settings are neither set
// nor read through it (R16), and mail authenticates with mailPassword
// (from the server's own flag or environment), never with
// mail.password_file.
func WithServer(mailPassword string) Option {
	return func(c *Core) { c.server, c.mailPassword = true, mailPassword }
}

// WithMailer replaces mail delivery.
func WithMailer(m Mailer) Option { return func(c *Core) { c.send = m } }

// Option configures a Core.
type Option func(*Core)

// WithClock replaces the wall clock, for tests of expiry.
func WithClock(now func() time.Time) Option { return func(c *Core) { c.now = now } }

// New returns a Core over an open store.
func New(db store.Store, opts ...Option) *Core {
	// Requests run by Idempotent write through sessionStore.
	b := &bell{}
	c := &Core{db: sessionStore{ringingStore{db, b}}, now: time.Now, send: mail.Send, bell: b,
		asking: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Actor names who a Service acts as. With User empty it is the local
// superuser, who may do anything the rules allow an owner to do; Name is
// then "local:<os user>".
type Actor struct {
	User string // a USER reference
	Name string // audit name of the local superuser
	Via  string // "local" or "token:<id>"
	// Org is the slug of the organisation to act in: "" for the
	// principal's own (a token's user's; locally, the system
	// organisation). Acting in another is for system administrators
	// (R21).
	Org string
}

// As returns a Service acting as a.
func (c *Core) As(a Actor) roster.Service {
	if a.Via == "" {
		a.Via = "local"
	}
	return &service{core: c, actor: a}
}

type service struct {
	core  *Core
	actor Actor
	// home is the organisation the principal belongs to, when it is known
	// before the operation (a token's or a session's user); 0 means the
	// organisation acted in, as for every local actor.
	home int64
	// signedIn is the user Authenticate found for this request, roles
	// loaded: reads act on it rather than look the user up again. Writes
	// still resolve the actor inside their transaction, where the rules
	// are checked.
	signedIn *store.UserRow
	// self marks the operations R17 leaves to a user who must change their
	// password: showing their account and changing the password.
	self bool
	// scope is the scope of the token acting (nil: none): the actor holds
	// only the permissions of theirs it names, checked at every operation,
	// so a role lost later narrows the token too.
	scope []string
}

// resolving returns s without the user authentication found, for an
// operation of many transactions: each then resolves the actor anew.
func (s *service) resolving() *service {
	c := *s
	c.signedIn = nil
	return &c
}

// account returns s for one of the operations R17 allows before a
// required password change.
func (s *service) account() *service {
	c := *s
	c.self = true
	return &c
}

var _ roster.Service = (*service)(nil)

// actor is the resolved principal of one operation.
type actor struct {
	user  *store.UserRow // nil for the local superuser and for link holders
	super bool           // the local superuser: every permission, owner's rank
	name  string
	via   string
	perms map[string]bool
	owner bool
	// sys is the system administrator acting in another organisation as
	// its owner would (R21): user is nil there, sys is who they are.
	sys *store.UserRow
	// scoped marks an actor acting through a scoped token; removed are
	// the permissions they hold that the scope leaves out.
	scoped  bool
	removed []string
}

// narrow limits the actor to a token's scope (implications applied). An
// owner's rank is no permission a scope can name: a scoped token has none.
func (a *actor) narrow(scope []string) {
	a.scoped, a.owner = true, false
	for p := range a.perms {
		if !slices.Contains(scope, p) {
			delete(a.perms, p)
			a.removed = append(a.removed, p)
		}
	}
	slices.Sort(a.removed)
}

func (a *actor) has(perm string) bool { return a.super || a.perms[perm] }

func (a *actor) id() int64 {
	if a.user == nil {
		return 0
	}
	return a.user.ID
}

// person names the actor as the recipient of a mail reads it: "Ann Lee
// (ann@example.com)", or for the local administrator "an administrator".
func (a *actor) person() string {
	switch {
	case a.user == nil:
		return "an administrator"
	case a.user.Name != "":
		return a.user.Name + " (" + a.user.Handle() + ")"
	}
	return a.user.Handle()
}

func (a *actor) is(u store.UserRow) bool { return a.user != nil && a.user.ID == u.ID }

// op is one operation in one transaction.
type op struct {
	ctx context.Context
	tx  store.Tx
	act *actor
	cat store.Catalog
	now time.Time

	myProjects map[string]bool // the actor's projects, once loaded
	core       *Core
	org        store.OrgRow // the organisation acted in

	// deniedTarget and deniedTargetID are the user the rules were last
	// checked against: who a refusal was about.
	deniedTarget   string
	deniedTargetID int64
}

func (s *service) now() time.Time { return s.core.now().UTC().Truncate(time.Microsecond) }

// write runs fn in a write transaction, with the actor resolved inside it
// so that permissions are current when the rules are checked.
func (s *service) write(ctx context.Context, fn func(*op) error) error {
	s.core.writes.start()
	defer s.core.writes.finish()
	return s.core.db.Write(ctx, func(tx store.Tx) error { return s.run(ctx, tx, true, fn) })
}

// writeAs is write for an operation that requires perm before anything
// else. Whether the actor holds perm at all is decided first in a read
// transaction, as the write would decide it (the actor resolved afresh,
// a token's scope and R17 applied, a refusal audited as *.denied), so
// that a flood of refusals never holds the write lock that the writes
// which succeed wait for (issue 20). The write then checks perm again,
// first: that check is the one that counts, since rights may change in
// between. (Helpers that apply also runs check perm themselves.)
//
// The local administrator holds every permission, and a signed-in user
// whose view at authentication grants perm most likely still holds it:
// their writes go straight to the write, which is as fast as before.
func (s *service) writeAs(ctx context.Context, perm string, fn func(*op) error) error {
	if perm == "" { // a change one may make to oneself: no one permission to ask
		return s.write(ctx, fn)
	}
	requires := func(o *op) error { return o.require(perm) }
	if s.actor.User != "" && !s.likelyHolds(perm) {
		if err := s.ask(ctx, requires); err != nil {
			return err
		}
	}
	return s.write(ctx, func(o *op) error {
		if err := requires(o); err != nil {
			return err
		}
		return fn(o)
	})
}

// ask runs fn in a read transaction, the actor resolved as for a write
// (a system administrator acting in another organisation must hold
// orgs.manage). Most of what is asked is refused, and a refusal barely
// waits on I/O: a flood of them, no longer paced by the write lock,
// would take the cores from the writes that succeed. So half the cores
// at most are asking at once, each once the writes in progress when its
// turn came are done; the others wait here, idle.
func (s *service) ask(ctx context.Context, fn func(*op) error) error {
	select {
	case s.core.asking <- struct{}{}:
		defer func() { <-s.core.asking }()
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := s.core.writes.wait(ctx); err != nil {
		return err
	}
	return s.core.db.Read(ctx, func(tx store.Tx) error { return s.run(ctx, tx, true, fn) })
}

// writesFirst counts the writes of this process, so that what is asked
// before the write lock can let the writes in progress go first.
type writesFirst struct {
	mu                sync.Mutex
	started, finished uint64
	next              chan struct{} // closed at the next finish, once waited for
}

func (w *writesFirst) start() {
	w.mu.Lock()
	w.started++
	w.mu.Unlock()
}

func (w *writesFirst) finish() {
	w.mu.Lock()
	w.finished++
	if w.next != nil {
		close(w.next)
		w.next = nil
	}
	w.mu.Unlock()
}

// wait returns once as many writes have finished as had started when it
// was called: it waits for writes in progress, never for later ones.
func (w *writesFirst) wait(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for target := w.started; w.finished < target; {
		if w.next == nil {
			w.next = make(chan struct{})
		}
		next := w.next
		w.mu.Unlock()
		select {
		case <-next:
		case <-ctx.Done():
			w.mu.Lock()
			return ctx.Err()
		}
		w.mu.Lock()
	}
	return nil
}

// likelyHolds reports whether the view of the actor authentication found
// (the signed-in user's roles and token scope, in the catalog last read
// of their organisation) grants perm. It is a guess, checked again in
// the write; whatever it cannot tell (another organisation, a password
// to change) is false.
func (s *service) likelyHolds(perm string) bool {
	u := s.signedIn
	if u == nil || u.MustChangePassword || s.actor.Org != "" {
		return false
	}
	cat, ok := s.core.catalog.last(s.home)
	if !ok || (s.scope != nil && !slices.Contains(cat.Closure(s.scope), perm)) {
		return false
	}
	return slices.Contains(effectiveIn(cat, u.Roles), perm)
}

// read runs fn in a read transaction.
func (s *service) read(ctx context.Context, fn func(*op) error) error {
	return s.core.db.Read(ctx, func(tx store.Tx) error { return s.run(ctx, tx, false, fn) })
}

// run runs fn as one operation in tx; write resolves the actor as for a
// write (see resolve), whatever tx is.
func (s *service) run(ctx context.Context, tx store.Tx, write bool, fn func(*op) error) error {
	tx, org, err := s.enter(ctx, tx)
	if err != nil {
		return err
	}
	o, err := s.newOp(ctx, tx)
	if err != nil {
		return err
	}
	o.org = org
	if o.act, err = s.resolve(o, write); err != nil {
		return err
	}
	if s.scope != nil {
		o.act.narrow(o.cat.Closure(s.scope))
	}
	if org.Status == roster.OrgSuspended && !o.act.super && o.act.sys == nil {
		return suspended(org)
	}
	if u := o.act.user; u != nil && u.MustChangePassword && !s.self {
		return roster.Errorf(roster.ErrForbidden, "%s must change their password before doing anything else (R17)", u.Handle()).
			WithHint("change it with roster account password")
	}
	err = fn(o)
	if errors.Is(err, roster.ErrForbidden) {
		s.core.refused(ctx, o, err)
	}
	return err
}

func (s *service) newOp(ctx context.Context, tx store.Tx) (*op, error) {
	cat, err := s.core.catalog.get(ctx, tx)
	if err != nil {
		return nil, err
	}
	return &op{ctx: ctx, tx: tx, cat: cat, now: s.now(), core: s.core, org: store.OrgRow{ID: tx.Org()}}, nil
}

// anonymous runs fn for a caller whose only credential is a link token:
// no principal, no permissions; fn sets o.act once it knows whose link it is.
func (s *service) anonymous(ctx context.Context, write bool, fn func(*op) error) error {
	run := s.core.db.Read
	if write {
		run = s.core.db.Write
	}
	return run(ctx, func(tx store.Tx) error {
		o, err := s.newOp(ctx, tx)
		if err != nil {
			return err
		}
		o.act = &actor{name: "anonymous", via: "link", perms: map[string]bool{}}
		return fn(o)
	})
}

func (s *service) resolve(o *op, write bool) (*actor, error) {
	if s.actor.User == "" {
		return &actor{super: true, name: s.actor.Name, via: s.actor.Via, owner: true}, nil
	}
	if s.home != 0 && s.home != o.tx.Org() {
		return s.sysActor(o, write)
	}
	if s.signedIn != nil && !write {
		return s.actorOf(o, *s.signedIn), nil
	}
	u, err := s.principalUser(o.ctx, o.tx)
	if err != nil {
		return nil, err
	}
	return s.actorOf(o, u), nil
}

// principalUser finds the acting user, active, in tx's organisation.
func (s *service) principalUser(ctx context.Context, tx store.Tx) (store.UserRow, error) {
	u, err := tx.UserByRef(ctx, s.actor.User)
	if errors.Is(err, roster.ErrNotFound) || errors.Is(err, roster.ErrInvalid) {
		return u, roster.Errorf(roster.ErrUnauthenticated, "cannot act as %s: no such user", s.actor.User)
	}
	if err != nil {
		// The store failing (a lost connection, a timeout) is not the user
		// missing: 503, not 401.
		return u, err
	}
	if status := u.StatusAt(s.now()); status != roster.StatusActive {
		return u, roster.Errorf(roster.ErrUnauthenticated, "cannot act as %s: the account is %s", u.Handle(), status)
	}
	return u, nil
}

// actorOf is the principal u, with the permissions of u's roles in o's
// catalog.
func (s *service) actorOf(o *op, u store.UserRow) *actor { return o.principal(u, s.actor.Via) }

// principal is u as an actor, with the permissions of u's roles in o's
// catalog.
func (o *op) principal(u store.UserRow, via string) *actor {
	a := &actor{user: &u, name: u.Handle(), via: via, perms: map[string]bool{}}
	for _, p := range o.effective(u.Roles) {
		a.perms[p] = true
	}
	a.owner = slices.Contains(u.Roles, roster.RoleOwner)
	return a
}

// effective is the permission closure of a set of roles.
func (o *op) effective(roles []string) []string {
	var perms []string
	for _, r := range roles {
		perms = append(perms, o.cat.Roles[r].Permissions...)
	}
	return o.cat.Closure(perms)
}

func (o *op) require(perm string) error {
	if o.act.has(perm) {
		return nil
	}
	if slices.Contains(o.act.removed, perm) {
		return roster.Errorf(roster.ErrForbidden, "%s holds %s, but this token's scope leaves it out", o.act.name, perm).
			WithHint("use a token whose --scope includes %s", perm)
	}
	return roster.Errorf(roster.ErrForbidden, "%s lacks the %s permission", o.act.name, perm).
		WithHint("ask someone who holds %s", perm)
}

// checkGrant applies R4 and R5 to giving roles: the actor must hold every
// permission each role carries, and only owners grant owner.
func (o *op) checkGrant(roles []string) error {
	for _, r := range roles {
		if r == roster.RoleOwner && !o.act.owner {
			return roster.Errorf(roster.ErrForbidden, "only owners can grant the owner role (R5)")
		}
		if err := o.checkHolds("role "+r, o.cat.Roles[r].Permissions); err != nil {
			return err
		}
	}
	return nil
}

// checkHolds applies R4 to a set of permissions, implications included.
func (o *op) checkHolds(what string, perms []string) error {
	for _, p := range o.cat.Closure(perms) {
		if !o.act.has(p) {
			return roster.Errorf(roster.ErrForbidden, "%s carries %s, which %s does not hold (R4)", what, p, o.act.name).
				WithHint("nobody can grant a permission they do not hold")
		}
	}
	return nil
}

// checkActOn applies R5 and R14 to an action on the person u: only owners
// act on owners, and nobody acts on someone who holds a permission they
// lack, since whoever can set your password or mint your token can become
// you. The error names the first permission missing.
func (o *op) checkActOn(u store.UserRow, verb string) error {
	o.deniedTarget, o.deniedTargetID = u.Handle(), u.ID
	if slices.Contains(u.Roles, roster.RoleOwner) && !o.act.owner {
		return roster.Errorf(roster.ErrForbidden, "only owners can %s an owner (R5)", verb)
	}
	if o.act.super {
		return nil
	}
	for _, p := range o.effective(u.Roles) {
		if !o.act.has(p) {
			return roster.Errorf(roster.ErrForbidden, "cannot %s %s: they hold %s, which %s lacks (R14)", verb, u.Handle(), p, o.act.name).
				WithHint("ask someone who holds every permission %s holds", u.Handle())
		}
	}
	return nil
}

// checkNotSelf applies R3.
func (o *op) checkNotSelf(u store.UserRow, verb string) error {
	o.deniedTarget, o.deniedTargetID = u.Handle(), u.ID
	if o.act.is(u) {
		return roster.Errorf(roster.ErrForbidden, "nobody can %s themselves (R3)", verb).
			WithHint("ask another administrator")
	}
	return nil
}

// checkKeepsOwner applies R2 before u stops being an active owner. A
// service account is never one R2 counts: a person must stay.
func (o *op) checkKeepsOwner(u store.UserRow, verb string) error {
	o.deniedTarget, o.deniedTargetID = u.Handle(), u.ID
	if u.Service() || u.StatusAt(o.now) != roster.StatusActive || !slices.Contains(u.Roles, roster.RoleOwner) {
		return nil
	}
	n, err := o.tx.CountActiveOwners(o.ctx, o.now)
	if err != nil {
		return err
	}
	if n <= 1 {
		return roster.Errorf(roster.ErrForbidden, "cannot %s %s: the last active owner (R2)", verb, u.Handle()).
			WithHint("make another user owner first")
	}
	return nil
}

// checkSeat applies R9 before one more user becomes active.
func (o *op) checkSeat() error { return o.checkSeats(1) }

// checkSeatOf applies R9 before u becomes active: a service account takes
// no seat.
func (o *op) checkSeatOf(u store.UserRow) error {
	if u.Service() {
		return nil
	}
	return o.checkSeat()
}

// checkSeats applies R9 before n more users become active; a batch that
// already made them active checks with n = 0.
func (o *op) checkSeats(more int) error {
	set, err := o.settings()
	if err != nil {
		return err
	}
	seats := set.Int("seats")
	if seats == 0 {
		return nil
	}
	n, err := o.tx.CountActive(o.ctx, o.now)
	if err != nil {
		return err
	}
	if n+more > seats {
		return roster.Errorf(roster.ErrConflict, "seat limit reached: %d of %d seats in use (R9)", n, seats).
			WithHint("deactivate someone or raise the limit with roster settings set seats N")
	}
	return nil
}

func (o *op) settings() (roster.Settings, error) {
	stored, err := orgSettings(o.ctx, o.tx)
	if err != nil {
		return nil, err
	}
	return o.core.settings(stored), nil
}

// orgSettings reads tx's organisation's stored settings, with the host
// settings stored (locally, R16) with the system organisation, which are
// every organisation's.
func orgSettings(ctx context.Context, tx store.Tx) (map[string]string, error) {
	stored, err := tx.Settings(ctx)
	if err != nil || tx.Org() == store.SystemOrg {
		return stored, err
	}
	host, err := tx.In(store.SystemOrg).Settings(ctx)
	if err != nil {
		return nil, err
	}
	if stored == nil {
		stored = map[string]string{}
	}
	for _, spec := range roster.SettingSpecs {
		if spec.Host {
			delete(stored, spec.Key)
			if v, ok := host[spec.Key]; ok {
				stored[spec.Key] = v
			}
		}
	}
	return stored, nil
}

// settings completes the stored settings with defaults and this
// process's host settings, which win.
func (c *Core) settings(stored map[string]string) roster.Settings {
	set := roster.Settings{}
	for _, spec := range roster.SettingSpecs {
		set[spec.Key] = spec.Default
	}
	for k, v := range stored {
		set[k] = v
	}
	for k, v := range c.host {
		set[k] = v
	}
	return set
}

// audit records an event in the operation's transaction, with the
// client's address when the request came with one (WithClient).
//
// A system administrator's act in another organisation is recorded in
// both logs (R21): the organisation's names them sys:<email>, the system
// organisation's by their own name and with the organisation acted in.
func (o *op) audit(action, target string, targetID int64, details map[string]any) error {
	if addr := roster.ClientOf(o.ctx); addr != "" {
		details = maps.Clone(details)
		if details == nil {
			details = map[string]any{}
		}
		details["client"] = addr
	}
	err := o.tx.InsertAudit(o.ctx, store.AuditEntry{
		AuditEvent: roster.AuditEvent{At: o.now, Actor: o.act.name, Via: o.act.via, Action: action, Target: target, Details: details},
		ActorID:    o.act.id(),
		TargetID:   targetID,
	})
	if err != nil || o.act.sys == nil {
		return err
	}
	return o.tx.In(store.SystemOrg).InsertAudit(o.ctx, store.AuditEntry{
		AuditEvent: roster.AuditEvent{At: o.now, Actor: o.act.sys.Email, Via: o.act.via, Action: action, Target: target,
			Details: withOrg(details, o.org.Slug)},
		ActorID: o.act.sys.ID,
	})
}

// withOrg is details with the organisation acted in added.
func withOrg(details map[string]any, slug string) map[string]any {
	d := maps.Clone(details)
	if d == nil {
		d = map[string]any{}
	}
	d["org"] = slug
	return d
}

func (o *op) role(name string) (store.RoleRow, error) {
	r, ok := o.cat.Roles[name]
	if !ok {
		return r, roster.Errorf(roster.ErrNotFound, "role %s not found", name).WithHint("see roster role list")
	}
	return r, nil
}

func (o *op) rolesExist(names []string) error {
	for _, n := range names {
		if _, err := o.role(n); err != nil {
			return err
		}
	}
	return nil
}

func (o *op) permissionsExist(names []string) error {
	for _, n := range names {
		if _, ok := o.cat.Permission(n); !ok {
			return roster.Errorf(roster.ErrNotFound, "permission %s not found", n).WithHint("see roster permission list")
		}
	}
	return nil
}

// dedupe returns the distinct values of s, sorted.
func dedupe(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return slices.Compact(out)
}
