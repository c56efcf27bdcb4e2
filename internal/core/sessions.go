package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/mail"
	"github.com/roster-dev/roster/internal/password"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/token"
)

// WithClient returns ctx carrying the address of the client a request
// came from: every audit event written for the request records it.
func WithClient(ctx context.Context, addr string) context.Context {
	return roster.WithClient(ctx, addr)
}

// Session is a signed-in browser session: who it is, and a Service acting
// as them with their current permissions.
type Session struct {
	ID     int64
	User   roster.User
	Method string // how it began: "password" or "link"
	// Org is the user's organisation (store.OrgOf's id), in which Service
	// acts: the pages open a session only in its own.
	Org     int64
	Service roster.Service
}

// sessionID is the browser session the service acts through, or 0.
func (s *service) sessionID() int64 {
	id, _ := strconv.ParseInt(strings.TrimPrefix(s.actor.Via, "session:"), 10, 64)
	if !strings.HasPrefix(s.actor.Via, "session:") {
		return 0
	}
	return id
}

// endCredentials applies R18 after u's password changed: it ends u's
// browser sessions except keep (0 for none), revokes u's pending sign-in
// and reset links, and with tokens u's API tokens, and returns what it
// ended, for the audit event.
func (o *op) endCredentials(u store.UserRow, keep int64, tokens bool) (map[string]any, error) {
	details := map[string]any{}
	ended, err := o.tx.EndSessionsExcept(o.ctx, u.ID, keep)
	if err != nil {
		return nil, err
	}
	links := 0
	for _, kind := range []store.LinkKind{store.LinkSignIn, store.LinkReset} {
		n, err := o.tx.RevokeLinks(o.ctx, u.ID, kind, o.now, "password changed")
		if err != nil {
			return nil, err
		}
		links += n
	}
	if ended > 0 {
		details["sessions_ended"] = ended
	}
	if links > 0 {
		details["links_revoked"] = links
	}
	if tokens {
		n, err := o.tx.RevokeTokens(o.ctx, u.ID, 0, o.now)
		if err != nil {
			return nil, err
		}
		details["tokens_revoked"] = n
	}
	return details, nil
}

// failedSignIn is the one answer to every failed sign-in, whatever failed.
func failedSignIn() error { return roster.Errorf(roster.ErrUnauthenticated, "wrong email or password") }

// endedSession is the one answer for a session that is unknown or over.
func endedSession() error {
	return roster.Errorf(roster.ErrUnauthenticated, "your session has ended").WithHint("sign in again")
}

// verifyLogin checks an email and a password. An unknown email, a wrong
// password and an account that is not active all fail alike, after the
// same work: one hash. When the stored hash is an imported bcrypt one, or
// made with older parameters, fresh is its replacement, made now while the
// password is at hand: the only moment it is.
func (c *Core) verifyLogin(ctx context.Context, email, pw string) (u store.UserRow, fresh string, err error) {
	err = c.db.Read(ctx, func(tx store.Tx) error {
		// Whether the organisation takes passwords at all: before the
		// account is looked up, so the answer tells nothing of it.
		if err := c.methodOff(ctx, tx, roster.MethodPassword); err != nil {
			return err
		}
		var err error
		if u, err = tx.UserByRef(ctx, email); err != nil {
			return err
		}
		// A suspended organisation's people cannot sign in; they fail as
		// any other refused sign-in does.
		org, found, err := tx.OrgByID(ctx, tx.Org())
		if err == nil && (!found || org.Status != roster.OrgActive) {
			err = failedSignIn()
		}
		return err
	})
	if errors.Is(err, roster.ErrForbidden) {
		return u, "", err
	}
	if err != nil || !strings.Contains(email, "@") {
		password.VerifyNone(pw)
		return u, "", failedSignIn()
	}
	ok, rehash := password.Verify(u.PasswordHash, pw)
	if u.PasswordHash == "" {
		password.VerifyNone(pw)
	}
	if !ok || u.StatusAt(c.now()) != roster.StatusActive {
		return u, "", failedSignIn()
	}
	if rehash {
		if fresh, err = password.Hash(pw); err != nil {
			return u, "", err
		}
	}
	return u, fresh, nil
}

// signIn runs fn as u, in one write transaction with the record of the
// sign-in: last_login_at and last_login_method, the rehash verifyLogin
// made (only over the hash it verified, not one set meanwhile) and an
// audit event. Signing in is allowed to a user who must change their
// password (R17): what it makes then does no more than that.
func (c *Core) signIn(ctx context.Context, u store.UserRow, method, fresh string, fn func(o *op) (map[string]any, error)) error {
	s := (&service{core: c, actor: Actor{User: strconv.FormatInt(u.ID, 10), Via: method}, home: u.OrgID}).account()
	return s.write(ctx, func(o *op) error {
		details, err := fn(o)
		if err != nil {
			return err
		}
		row := *o.act.user
		row.LastLoginAt, row.LastLoginMethod = &o.now, method
		if fresh != "" && row.PasswordHash == u.PasswordHash {
			row.PasswordHash = fresh
		}
		if err := o.tx.UpdateUser(ctx, row); err != nil {
			return err
		}
		details["method"] = method
		return o.audit("account.signin", row.Handle(), row.ID, details)
	})
}

// SignIn exchanges an email and password for a new API token of that
// user, as roster login does.
func (c *Core) SignIn(ctx context.Context, email, pw, name string) (roster.APIToken, error) {
	u, fresh, err := c.verifyLogin(ctx, email, pw)
	if err != nil {
		return roster.APIToken{}, err
	}
	if name == "" {
		name = "login"
	}
	var t roster.APIToken
	err = c.signIn(ctx, u, "password", fresh, func(o *op) (map[string]any, error) {
		var err error
		end, err := o.tokenEnd(0, nil, roster.DefaultTokenTTL)
		if err != nil {
			return nil, err
		}
		t, err = o.mintToken(*o.act.user, name, end, nil)
		return map[string]any{"token_id": t.ID}, err
	})
	return t, err
}

// sessionLife reads a session's absolute and idle lifetimes.
func sessionLife(set roster.Settings) (life, idle time.Duration, err error) {
	if life, err = roster.ParseDuration(set["session.ttl"]); err != nil {
		return 0, 0, err
	}
	idle, err = roster.ParseDuration(set["session.idle"])
	return life, idle, err
}

// startSession stores a new session of the acting user and returns its
// secret, for the cookie.
func (o *op) startSession(method string) (string, map[string]any, error) {
	set, err := o.settings()
	if err != nil {
		return "", nil, err
	}
	life, _, err := sessionLife(set)
	if err != nil {
		return "", nil, err
	}
	secret, hash := token.New(token.Session)
	addr := roster.ClientOf(o.ctx)
	id, err := o.tx.InsertSession(o.ctx, store.SessionRow{UserID: o.act.id(), TokenHash: hash[:], Method: method,
		Address: addr, CreatedAt: o.now, LastSeenAt: o.now, ExpiresAt: o.now.Add(life)})
	return secret, map[string]any{"session_id": id}, err
}

// StartSession signs a person in with their email and password and
// returns the secret of a new browser session.
func (c *Core) StartSession(ctx context.Context, email, pw string) (string, error) {
	u, fresh, err := c.verifyLogin(ctx, email, pw)
	if err != nil {
		return "", err
	}
	var secret string
	err = c.signIn(ctx, u, "password", fresh, func(o *op) (details map[string]any, err error) {
		secret, details, err = o.startSession("password")
		return details, err
	})
	return secret, err
}

// Session finds the browser session a cookie's secret names. Unknown,
// expired and idle sessions, and sessions of users who are not active,
// all fail alike with roster.ErrUnauthenticated.
func (c *Core) Session(ctx context.Context, secret string) (Session, error) {
	hash, err := token.Parse(token.Session, secret)
	if err != nil {
		return Session{}, endedSession()
	}
	var row store.SessionRow
	var user store.UserRow
	var idle time.Duration
	now := c.now().UTC()
	err = c.db.Read(ctx, func(tx store.Tx) error {
		var found bool
		row, user, found, err = tx.SessionUser(ctx, hash[:])
		if err != nil {
			return err
		}
		if !found {
			return endedSession()
		}
		stored, err := orgSettings(ctx, tx.In(user.OrgID))
		if err != nil {
			return err
		}
		if _, idle, err = sessionLife(c.settings(stored)); err != nil {
			return err
		}
		if !now.Before(row.ExpiresAt) || now.Sub(row.LastSeenAt) >= idle || user.StatusAt(now) != roster.StatusActive ||
			user.OrgStatus != roster.OrgActive {
			return endedSession()
		}
		return nil
	})
	if err != nil {
		return Session{}, err
	}
	// Activity is recorded at most every tenth of the idle lifetime (and
	// at least every minute), so that a session in use never reaches it.
	if every := touchEvery(idle); now.Sub(row.LastSeenAt) >= every {
		if err := c.db.Write(ctx, func(tx store.Tx) error { return tx.In(user.OrgID).TouchSession(ctx, row.ID, now, now.Add(-every)) }); err != nil {
			return Session{}, err
		}
	}
	actor := Actor{User: strconv.FormatInt(user.ID, 10), Via: "session:" + strconv.FormatInt(row.ID, 10)}
	return Session{ID: row.ID, User: user.User, Method: row.Method, Org: user.OrgID,
		Service: &service{core: c, actor: actor, signedIn: &user, home: user.OrgID}}, nil
}

// touchEvery is how often a session's activity is written, for an idle
// lifetime: a tenth of it, at most a minute.
func touchEvery(idle time.Duration) time.Duration { return min(idle/10, time.Minute) }

// EndSession signs a session out. An unknown or already ended session is
// not an error: the person is signed out either way.
func (c *Core) EndSession(ctx context.Context, secret string) error {
	hash, err := token.Parse(token.Session, secret)
	if err != nil {
		return nil
	}
	var row store.SessionRow
	var user store.UserRow
	var found bool
	err = c.db.Read(ctx, func(tx store.Tx) error {
		row, user, found, err = tx.SessionUser(ctx, hash[:])
		return err
	})
	if err != nil || !found {
		return err
	}
	s := &service{core: c, actor: Actor{User: strconv.FormatInt(user.ID, 10), Via: "session:" + strconv.FormatInt(row.ID, 10)}}
	return s.anonymous(ctx, true, func(o *op) error {
		o.tx = o.tx.In(user.OrgID) // where the sign-out is recorded
		n, err := o.tx.EndSessions(ctx, user.ID, row.ID)
		if err != nil || n == 0 {
			return err
		}
		o.act = &actor{user: &user, name: user.Handle(), via: s.actor.Via}
		return o.audit("account.signout", user.Handle(), user.ID, map[string]any{"session_id": row.ID})
	})
}

// SignInLinks reports whether this server can mail sign-in links, which
// needs mail and a base URL, and how long one lasts (signin.ttl).
func (c *Core) SignInLinks(ctx context.Context) (time.Duration, error) {
	var life time.Duration
	s := &service{core: c, actor: Actor{User: nobody, Via: "signin-link"}}
	err := s.anonymous(ctx, false, func(o *op) error {
		set, err := o.settings()
		if err != nil {
			return err
		}
		if _, err := o.mailConfig(set, true); err != nil || set["base_url"] == "" {
			return roster.Errorf(roster.ErrUnavailable, "this server cannot send sign-in links: mail or its base URL is not set up").
				WithHint("sign in with your password, or ask an administrator")
		}
		life, err = roster.ParseDuration(set["signin.ttl"])
		return err
	})
	return life, err
}

// SendSignInLink mails a sign-in link, valid for signin.ttl, to the
// active user with that email, and does nothing for any other address.
func (c *Core) SendSignInLink(ctx context.Context, email string) error {
	s := &service{core: c, actor: Actor{User: nobody, Via: "signin-link"}}
	var cfg mail.Config
	var m mail.Message
	var sent store.Link
	err := s.anonymous(ctx, true, func(o *op) error {
		set, err := o.settings()
		if err != nil {
			return err
		}
		if cfg, err = o.mailConfig(set, true); err != nil {
			return err
		}
		life, err := roster.ParseDuration(set["signin.ttl"])
		if err != nil {
			return err
		}
		u, err := o.tx.UserByRef(ctx, email)
		if err != nil || !strings.Contains(email, "@") || u.StatusAt(o.now) != roster.StatusActive || o.methodOff(roster.MethodLink) != nil {
			return nil
		}
		if org, err := o.orgRow(); err != nil || org.Status != roster.OrgActive {
			return err
		}
		// R20: a few links per account per window, whoever asks and from
		// wherever; past that, nothing is sent and the answer is the same.
		made, err := o.tx.CountLinksSince(ctx, u.ID, store.LinkSignIn, o.now.Add(-SignInLinkWindow))
		if err != nil || made >= SignInLinksPerWindow {
			return err
		}
		// One live sign-in link per account: a new one ends the older.
		if _, err := o.tx.RevokeLinks(ctx, u.ID, store.LinkSignIn, o.now, "replaced"); err != nil {
			return err
		}
		o.act = &actor{user: &u, name: u.Handle(), via: "signin-link"}
		l, tok, err := o.newLink(store.LinkSignIn, u, nil, life)
		if err != nil {
			return err
		}
		sent = l
		url, err := o.linkURL(set, "signin", tok)
		if err != nil {
			return err
		}
		m = signInMessage(set, u.Email, url, l)
		return o.audit("account.signin_link", u.Handle(), u.ID, map[string]any{"expires_at": l.ExpiresAt})
	})
	if err != nil || sent.ID == 0 {
		return err
	}
	// The mail is recorded as the account's own doing: nobody else asked.
	s = (&service{core: c, actor: Actor{User: strconv.FormatInt(sent.UserID, 10), Via: "signin-link"}}).account()
	if ok, msg := s.deliver(ctx, cfg, m, "account.signin_link.send", sent); !ok || msg != "" {
		return fmt.Errorf("send sign-in link: %s", msg)
	}
	return nil
}

// R20: how many sign-in links one account may be mailed in a window.
const (
	SignInLinksPerWindow = 3
	SignInLinkWindow     = 15 * time.Minute
)

// Now is the core's clock.
func (c *Core) Now() time.Time { return c.now().UTC() }

// OrgName is the organisation's name for the pages: org.name, or
// "roster" when none is set or the store does not answer.
func (c *Core) OrgName(ctx context.Context) string {
	var set roster.Settings
	err := c.db.Read(ctx, func(tx store.Tx) error {
		stored, err := tx.Settings(ctx)
		set = c.settings(stored)
		return err
	})
	if err != nil {
		return "roster"
	}
	return orgName(set)
}

// LinkSession signs a person in with a sign-in link, which it uses up,
// and returns the secret of a new browser session.
func (c *Core) LinkSession(ctx context.Context, tok string) (string, error) {
	hash, err := token.Parse(token.SignIn, tok)
	if err != nil {
		return "", unknownLink("sign-in link")
	}
	var secret string
	s := &service{core: c, actor: Actor{User: nobody, Via: "link"}}
	err = s.anonymous(ctx, true, func(o *op) error {
		l, u, err := o.liveLink(store.LinkSignIn, "sign-in link", hash[:], activeAccount("sign-in link"))
		if err != nil {
			return err
		}
		if err := o.methodOff(roster.MethodLink); err != nil {
			return err
		}
		if ok, err := o.tx.ConsumeLink(ctx, l.ID, o.now); err != nil {
			return err
		} else if !ok {
			return roster.Errorf(roster.ErrConflict, "this sign-in link was already used")
		}
		o.act = o.principal(u, "link")
		var details map[string]any
		if secret, details, err = o.startSession("link"); err != nil {
			return err
		}
		u.LastLoginAt, u.LastLoginMethod = &o.now, "link"
		if err := o.tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		details["method"] = "link"
		return o.audit("account.signin", u.Handle(), u.ID, details)
	})
	if err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	return secret, nil
}

// LinkInfo is what a link's page shows before the link is used.
type LinkInfo struct {
	Email, Name, Username string
	InvitedBy             string // who made an invitation, as a person reads it
	Roles                 []string
	ExpiresAt             time.Time
	MinLength             int // the password policy's
}

// CheckLink checks, without using it, that a link of kind is live and
// may still be used, as its use will check again; see AcceptInvitation,
// RedeemResetLink and LinkSession.
func (c *Core) CheckLink(ctx context.Context, kind store.LinkKind, tok string) (LinkInfo, error) {
	what, k, check := linkRules(kind)
	hash, err := token.Parse(k, tok)
	if err != nil {
		return LinkInfo{}, unknownLink(what)
	}
	var info LinkInfo
	s := &service{core: c, actor: Actor{User: nobody, Via: "link"}}
	err = s.anonymous(ctx, false, func(o *op) error {
		l, u, err := o.liveLink(kind, what, hash[:], check)
		if err != nil {
			return err
		}
		set, err := o.settings()
		if err != nil {
			return err
		}
		info = LinkInfo{Email: u.Email, Name: u.Name, Username: u.Username, Roles: u.Roles, ExpiresAt: l.ExpiresAt,
			InvitedBy: o.inviter(l), MinLength: set.Int("password.min_length")}
		return nil
	})
	return info, err
}

// linkRules names a kind of link, its token's kind, and what its user's
// account must be for it to be used.
func linkRules(kind store.LinkKind) (string, token.Kind, func(o *op, l store.Link, u store.UserRow) error) {
	switch kind {
	case store.LinkInvite:
		return "invitation", token.Invitation, invitedAccount
	case store.LinkReset:
		return "reset link", token.Reset, activeAccount("reset link")
	}
	return "sign-in link", token.SignIn, activeAccount("sign-in link")
}

// invitedAccount admits an invitation only for an account not yet active.
func invitedAccount(o *op, l store.Link, u store.UserRow) error {
	if status := u.StatusAt(o.now); status != roster.StatusInvited {
		return roster.Errorf(roster.ErrConflict, "this invitation is for an account that is %s", status)
	}
	return nil
}

// activeAccount admits a link only for an active account (R8).
func activeAccount(what string) func(o *op, l store.Link, u store.UserRow) error {
	return func(o *op, l store.Link, u store.UserRow) error {
		if status := u.StatusAt(o.now); status != roster.StatusActive {
			return roster.Errorf(roster.ErrConflict, "this %s is for an account that is %s", what, status)
		}
		return nil
	}
}

// liveLink finds the link a token's hash names, live at o.now, with its
// user, who must pass check.
func (o *op) liveLink(kind store.LinkKind, what string, hash []byte, check func(o *op, l store.Link, u store.UserRow) error) (store.Link, store.UserRow, error) {
	l, found, err := o.tx.LinkByHash(o.ctx, kind, hash)
	if err != nil || !found {
		return l, store.UserRow{}, errors.Join(err, unknownLink(what))
	}
	if err := o.moveTo(l.OrgID, what); err != nil {
		return l, store.UserRow{}, err
	}
	if err := deadLink(what, l, o.now); err != nil {
		return l, store.UserRow{}, err
	}
	u, err := o.tx.UserByRef(o.ctx, strconv.FormatInt(l.UserID, 10))
	if err != nil {
		return l, u, err
	}
	return l, u, check(o, l, u)
}

// inviter names who made a link as its recipient reads it: "Ann Lee
// (ann@example.com)", or for the local administrator the organisation's
// administrators.
func (o *op) inviter(l store.Link) string {
	if l.CreatedBy != 0 {
		if u, err := o.tx.UserByRef(o.ctx, strconv.FormatInt(l.CreatedBy, 10)); err == nil {
			return (&actor{user: &u}).person()
		}
	}
	if strings.HasPrefix(l.Creator, "local:") {
		return (&actor{super: true}).person()
	}
	return l.Creator
}
