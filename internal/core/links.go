package core

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/mail"
	"github.com/roster-dev/roster/internal/password"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/token"
)

// ttl returns the lifetime of a new link: the override, else the setting.
func ttl(set roster.Settings, key string, override time.Duration) (time.Duration, error) {
	if override != 0 {
		if override < roster.MinLinkTTL || override > roster.MaxLinkTTL {
			return 0, roster.Errorf(roster.ErrInvalid, "invalid lifetime %s", override).WithHint("use 1m to 90d")
		}
		return override, nil
	}
	return roster.ParseDuration(set[key])
}

// linkURL is the address of a link page under base_url, or "" when no
// base_url is set (the token is then redeemed with the command line).
// With more than one organisation in the store, the address carries the
// organisation's: /o/<slug>/invite/<token>.
func (o *op) linkURL(set roster.Settings, path, tok string) (string, error) {
	base := strings.TrimRight(set["base_url"], "/")
	if base == "" {
		return "", nil
	}
	many, err := o.tx.ManyOrgs(o.ctx)
	if err != nil {
		return "", err
	}
	if many {
		org, err := o.orgRow()
		if err != nil {
			return "", err
		}
		base += "/o/" + org.Slug
	}
	return base + "/" + path + "/" + tok, nil
}

// mailConfig reads mail delivery from the settings; send means the caller
// asked for mail, which then must be configured before anything is written.
// A server never reads mail.password_file (R16): its password is its own.
func (o *op) mailConfig(set roster.Settings, send bool) (mail.Config, error) {
	port, _ := strconv.Atoi(set["mail.port"])
	cfg := mail.Config{Host: set["mail.host"], Port: port, From: set["mail.from"], Username: set["mail.username"],
		PasswordFile: set["mail.password_file"], TLS: set["mail.tls"]}
	if o.core.server {
		cfg.PasswordFile, cfg.Password = "", o.core.mailPassword
	}
	if send && (cfg.Host == "" || cfg.From == "") {
		return cfg, roster.Errorf(roster.ErrInvalid, "mail is not configured").
			WithHint("set it up with roster settings set mail.host HOST and mail.from ADDRESS, or leave out --send")
	}
	return cfg, nil
}

// linkStatus says where a link stands at now.
func linkStatus(l store.Link, now time.Time) roster.InviteStatus {
	switch {
	case l.UsedAt != nil:
		return roster.InviteAccepted
	case l.RevokedAt != nil:
		return roster.InviteRevoked
	case !now.Before(l.ExpiresAt):
		return roster.InviteExpired
	}
	return roster.InvitePending
}

// deadLink explains why a link cannot be used, and what to do.
func deadLink(what string, l store.Link, now time.Time) error {
	switch linkStatus(l, now) {
	case roster.InviteAccepted:
		return roster.Errorf(roster.ErrConflict, "this %s was already used", what).
			WithHint("a link works once; ask an administrator for a new one if you still need it")
	case roster.InviteRevoked:
		return roster.Errorf(roster.ErrConflict, "this %s was revoked", what).
			WithHint("ask an administrator for a new one")
	case roster.InviteExpired:
		return roster.Errorf(roster.ErrConflict, "this %s expired at %s", what, l.ExpiresAt.Format(time.RFC3339)).
			WithHint("ask an administrator for a new one")
	}
	return nil
}

func unknownLink(what string) error {
	return roster.Errorf(roster.ErrNotFound, "unknown %s", what).
		WithHint("check that the whole link was copied; ask an administrator for a new one if it is lost")
}

func invitationView(l store.Link, now time.Time) roster.Invitation {
	inv := roster.Invitation{Email: l.Email, Name: l.Name, Roles: l.Roles, Status: linkStatus(l, now),
		InvitedBy: l.Creator, CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt, AcceptedAt: l.UsedAt, Sent: l.SentAt != nil}
	if inv.Roles == nil {
		inv.Roles = []string{}
	}
	return inv
}

// newLink stores a fresh link for u and returns it with its token.
func (o *op) newLink(kind store.LinkKind, u store.UserRow, roles []string, life time.Duration) (store.Link, string, error) {
	_, k, _ := linkRules(kind)
	tok, hash := token.New(k)
	l := store.Link{Kind: kind, UserID: u.ID, Email: u.Email, Name: u.Name, TokenHash: hash[:], CreatedBy: o.act.id(),
		Creator: o.act.name, Roles: roles, CreatedAt: o.now, ExpiresAt: o.now.Add(life)}
	id, err := o.tx.InsertLink(o.ctx, l)
	l.ID = id
	return l, tok, err
}

func (s *service) CreateInvitation(ctx context.Context, p roster.CreateInvitation) (roster.Invitation, error) {
	var inv roster.Invitation
	email, err := roster.NormalizeEmail(p.Email)
	if err != nil {
		return inv, err
	}
	if err := roster.ValidateName(p.Name); err != nil {
		return inv, err
	}
	roles := dedupe(p.Roles)
	if len(roles) == 0 {
		roles = []string{roster.RoleMember}
	}
	var set roster.Settings
	var cfg mail.Config
	var sent store.Link
	var from string // the inviter, as the invited person reads it
	err = s.writeAs(ctx, roster.PermUsersCreate, func(o *op) error {
		if set, err = o.settings(); err != nil {
			return err
		}
		if cfg, err = o.mailConfig(set, p.Send); err != nil {
			return err
		}
		life, err := ttl(set, "invite.ttl", p.TTL)
		if err != nil {
			return err
		}
		if id, err := o.tx.EmailTaken(ctx, email); err != nil {
			return err
		} else if id != 0 {
			u, err := o.tx.UserByRef(ctx, email)
			if err == nil && p.IfNotExists {
				inv, err = o.existingInvitation(u, p)
				return err
			}
			if err == nil && u.Status == roster.StatusInvited {
				return roster.Errorf(roster.ErrConflict, "%s is already invited", email).
					WithHint("send a new link with roster invite resend %s", email)
			}
			return roster.Errorf(roster.ErrConflict, "%s is already a user", email)
		}
		if err := o.rolesExist(roles); err != nil {
			return err
		}
		if err := o.checkGrant(roles); err != nil {
			return err
		}
		row := store.UserRow{User: roster.User{Email: email, Name: p.Name, Roles: roles, Status: roster.StatusInvited,
			CreatedAt: o.now, UpdatedAt: o.now}}
		if row.ID, err = o.tx.InsertUser(ctx, row); err != nil {
			return err
		}
		if err := o.join(row, p.Projects); err != nil {
			return err
		}
		l, tok, err := o.newLink(store.LinkInvite, row, roles, life)
		if err != nil {
			return err
		}
		sent, from = l, o.act.person()
		inv = invitationView(l, o.now)
		inv.Token = tok
		if inv.URL, err = o.linkURL(set, "invite", tok); err != nil {
			return err
		}
		return o.audit("invite.create", email, row.ID, map[string]any{"roles": roles, "expires_at": l.ExpiresAt})
	})
	if err != nil {
		return roster.Invitation{}, fmt.Errorf("invite %s: %w", roster.Quote(email), err)
	}
	if p.Send && inv.Existing == nil {
		inv.Sent, inv.MailError = s.deliver(ctx, cfg, inviteMessage(set, inv, from, sent), "invite.send", sent)
	}
	return inv, nil
}

// existingInvitation is what invite create --if-not-exists answers for a
// person who is already invited or already a user: their latest
// invitation, never its link (shown once), and how it differs from p.
// Without users.view the actor learns no more than the email they gave.
func (o *op) existingInvitation(u store.UserRow, p roster.CreateInvitation) (roster.Invitation, error) {
	inv := roster.Invitation{Email: u.Email, Roles: []string{}}
	var d differs
	if o.act.has(roster.PermUsersView) {
		l, found, err := o.tx.LatestLink(o.ctx, u.ID, store.LinkInvite)
		if err != nil {
			return inv, err
		}
		if found {
			inv = invitationView(l, o.now)
			inv.Sent = false // nothing was mailed now
		}
		view, err := o.view(u.User)
		if err != nil {
			return inv, err
		}
		inv.Email, inv.Name, inv.Roles = view.Email, view.Name, view.Roles
		if view.Status != roster.StatusInvited {
			d.text("status", string(view.Status), string(roster.StatusInvited))
		}
		d = append(d, o.userDiffers(view, p.Roles, p.Name, "", nil, p.Projects)...)
	}
	inv.Existing = d.existing()
	return inv, nil
}

func (s *service) ListInvitations(ctx context.Context, status roster.InviteStatus) ([]roster.Invitation, error) {
	if status != "" && !status.Valid() {
		return nil, roster.Errorf(roster.ErrInvalid, "invalid status %q", status).WithHint("use pending, accepted, expired or revoked")
	}
	out := []roster.Invitation{}
	err := s.read(ctx, func(o *op) error {
		if err := o.require(roster.PermUsersView); err != nil {
			return err
		}
		links, err := o.tx.ListInvitations(ctx)
		for _, l := range links {
			if inv := invitationView(l, o.now); status == "" || inv.Status == status {
				out = append(out, inv)
			}
		}
		return err
	})
	return out, err
}

// invited loads the invited user an invitation command is about, once
// users.manage was required.
func (o *op) invited(email string) (store.UserRow, error) {
	u, err := o.tx.UserByRef(o.ctx, email)
	if err != nil {
		return u, err
	}
	if err := o.checkActOn(u, "send or revoke an invitation of"); err != nil {
		return u, err
	}
	if u.Status != roster.StatusInvited {
		return u, roster.Errorf(roster.ErrConflict, "%s is not invited: the account is %s", u.Handle(), u.Status)
	}
	return u, nil
}

func (s *service) ResendInvitation(ctx context.Context, email string, life time.Duration, send bool) (roster.Invitation, error) {
	var inv roster.Invitation
	var set roster.Settings
	var cfg mail.Config
	var sent store.Link
	var from string
	err := s.writeAs(ctx, roster.PermUsersManage, func(o *op) error {
		u, err := o.invited(email)
		if err != nil {
			return err
		}
		if set, err = o.settings(); err != nil {
			return err
		}
		if cfg, err = o.mailConfig(set, send); err != nil {
			return err
		}
		d, err := ttl(set, "invite.resend_ttl", life)
		if err != nil {
			return err
		}
		// The new link is checked against its maker when used (R11): whoever
		// resends must be able to invite with the user's roles now, or the
		// working link would be replaced by one that cannot be accepted.
		if err := o.require(roster.PermUsersCreate); err != nil {
			return err
		}
		if err := o.checkGrant(u.Roles); err != nil {
			return err
		}
		roles := u.Roles
		// The old link stops working the moment the new one exists.
		if _, err := o.tx.RevokeLinks(ctx, u.ID, store.LinkInvite, o.now, "resent"); err != nil {
			return err
		}
		l, tok, err := o.newLink(store.LinkInvite, u, roles, d)
		if err != nil {
			return err
		}
		sent, from = l, o.act.person()
		inv = invitationView(l, o.now)
		inv.Token = tok
		if inv.URL, err = o.linkURL(set, "invite", tok); err != nil {
			return err
		}
		return o.audit("invite.resend", u.Handle(), u.ID, map[string]any{"expires_at": l.ExpiresAt})
	})
	if err != nil {
		return roster.Invitation{}, fmt.Errorf("resend invitation to %s: %w", roster.Quote(email), err)
	}
	if send {
		inv.Sent, inv.MailError = s.deliver(ctx, cfg, inviteMessage(set, inv, from, sent), "invite.send", sent)
	}
	return inv, nil
}

func (s *service) RevokeInvitation(ctx context.Context, email string) (roster.InvitationResult, error) {
	var res roster.InvitationResult
	err := s.writeAs(ctx, roster.PermUsersManage, func(o *op) error {
		u, err := o.tx.UserByRef(ctx, email)
		if err != nil {
			return err
		}
		if err := o.checkActOn(u, "revoke an invitation of"); err != nil {
			return err
		}
		n, err := o.tx.RevokeLinks(ctx, u.ID, store.LinkInvite, o.now, "revoked")
		if err != nil {
			return err
		}
		l, found, err := o.tx.LatestLink(ctx, u.ID, store.LinkInvite)
		if err != nil {
			return err
		}
		if !found {
			return roster.Errorf(roster.ErrNotFound, "%s has no invitation", u.Handle())
		}
		res = roster.InvitationResult{Invitation: invitationView(l, o.now), Changed: n > 0}
		if n == 0 {
			return nil
		}
		return o.audit("invite.revoke", u.Handle(), u.ID, nil)
	})
	if err != nil {
		return roster.InvitationResult{}, fmt.Errorf("revoke invitation of %s: %w", roster.Quote(email), err)
	}
	return res, nil
}

// redeem is the shared path of accepting an invitation and using a reset
// link: check the token, check the password before the write (hashing
// must not hold the write lock), then consume the link with one
// conditional update inside the write transaction and apply fn.
func (s *service) redeem(ctx context.Context, kind store.LinkKind, tok, pw string, apply func(o *op, l store.Link, u *store.UserRow) error) (roster.User, error) {
	what, k, check := linkRules(kind)
	hash, err := token.Parse(k, tok)
	if err != nil {
		return roster.User{}, unknownLink(what)
	}
	find := func(o *op) (store.Link, store.UserRow, error) { return o.liveLink(kind, what, hash[:], check) }
	var email string
	err = s.anonymous(ctx, false, func(o *op) error {
		_, u, err := find(o)
		email = u.Email
		return err
	})
	if err != nil {
		return roster.User{}, err
	}
	minLen, err := s.minLength(ctx)
	if err != nil {
		return roster.User{}, err
	}
	if pw == "" {
		return roster.User{}, roster.ErrPasswordRequired
	}
	if err := password.Check(pw, email, minLen); err != nil {
		return roster.User{}, err
	}
	pwHash, err := password.Hash(pw)
	if err != nil {
		return roster.User{}, err
	}
	var out roster.User
	err = s.anonymous(ctx, true, func(o *op) error {
		l, u, err := find(o)
		if err != nil {
			return err
		}
		if ok, err := o.tx.ConsumeLink(ctx, l.ID, o.now); err != nil {
			return err
		} else if !ok {
			return roster.Errorf(roster.ErrConflict, "this %s was already used", what)
		}
		o.act = &actor{user: &u, name: u.Handle(), via: string(kind) + "-link", perms: map[string]bool{}}
		u.PasswordHash, u.MustChangePassword, u.UpdatedAt = pwHash, false, o.now
		if err := apply(o, l, &u); err != nil {
			return err
		}
		if err := o.tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		res, err := o.reload(u.ID, true)
		out = res.User
		return err
	})
	return out, err
}

func (s *service) minLength(ctx context.Context) (int, error) {
	var n int
	err := s.core.db.Read(ctx, func(tx store.Tx) error {
		tx, _, err := s.enter(ctx, tx)
		if err != nil {
			return err
		}
		stored, err := orgSettings(ctx, tx)
		n = s.core.settings(stored).Int("password.min_length")
		return err
	})
	return n, err
}

func (s *service) AcceptInvitation(ctx context.Context, p roster.AcceptInvitation) (roster.User, error) {
	if err := roster.ValidateName(p.Name); err != nil {
		return roster.User{}, err
	}
	if p.Username != "" {
		if err := roster.ValidateUsername(p.Username); err != nil {
			return roster.User{}, err
		}
	}
	u, err := s.redeem(ctx, store.LinkInvite, p.Token, p.Password, func(o *op, l store.Link, u *store.UserRow) error {
		denied := roster.Errorf(roster.ErrForbidden, "%s, who invited you, can no longer grant %s (R11)", l.Creator, strings.Join(u.Roles, ", ")).
			WithHint("ask an administrator for a new invitation")
		if err := o.checkCreator(l, *u, roster.PermUsersCreate, u.Roles, denied); err != nil {
			return err
		}
		if err := o.checkSeat(); err != nil {
			return err
		}
		if err := o.checkUnique(u.ID, p.Username, nil); err != nil {
			return err
		}
		if p.Name != "" {
			u.Name = p.Name
		}
		if p.Username != "" {
			u.Username = p.Username
		}
		u.Status = roster.StatusActive
		return o.audit("invite.accept", u.Handle(), u.ID, map[string]any{"roles": u.Roles})
	})
	if err != nil {
		return roster.User{}, fmt.Errorf("accept invitation: %w", err)
	}
	return u, nil
}

// checkCreator applies R11 when a link is used: whoever made it must still
// be active and still allowed to do what the link does now — hold perm,
// grant the user's current roles (R4, R5), and act on them (R5: an owner's
// link must come from an owner). The user's roles may have changed since.
func (o *op) checkCreator(l store.Link, u store.UserRow, perm string, grant []string, denied *roster.Error) error {
	if l.CreatedBy == 0 && strings.HasPrefix(l.Creator, "local:") {
		return nil // the local administrator may do anything an owner may
	}
	if email, ok := strings.CutPrefix(l.Creator, "sys:"); ok && l.CreatedBy == 0 {
		return o.checkSysCreator(email, denied)
	}
	if l.CreatedBy == 0 {
		return denied // the creator was deleted
	}
	creator, err := o.tx.UserByRef(o.ctx, strconv.FormatInt(l.CreatedBy, 10))
	if err != nil || creator.StatusAt(o.now) != roster.StatusActive {
		return denied
	}
	as := &op{ctx: o.ctx, tx: o.tx, cat: o.cat, now: o.now, core: o.core, act: o.principal(creator, "")}
	if !as.act.has(perm) || as.checkGrant(grant) != nil || as.checkActOn(u, "act on") != nil {
		return denied
	}
	return nil
}

// checkSysCreator re-checks a link made by a system administrator, who
// acted as the organisation's owner: they still may while they are
// active and hold orgs.manage in the system organisation.
func (o *op) checkSysCreator(email string, denied *roster.Error) error {
	creator, err := o.tx.In(store.SystemOrg).UserByRef(o.ctx, email)
	if err != nil || creator.StatusAt(o.now) != roster.StatusActive {
		return denied
	}
	held, err := o.systemPerms(creator)
	if err != nil || slices.Contains(held, roster.PermOrgsManage) {
		return err
	}
	return denied
}

func (s *service) CreateResetLink(ctx context.Context, ref string, life time.Duration, send bool) (roster.ResetLink, error) {
	var rl roster.ResetLink
	var set roster.Settings
	var cfg mail.Config
	var sent store.Link
	err := s.writeAs(ctx, roster.PermUsersManage, func(o *op) error {
		u, err := o.tx.UserByRef(ctx, ref)
		if err != nil {
			return err
		}
		if err := notPerson(u.User, "password"); err != nil {
			return err
		}
		if err := o.checkActOn(u, "issue a reset link for"); err != nil {
			return err
		}
		switch u.Status {
		case roster.StatusInvited:
			return roster.Errorf(roster.ErrConflict, "%s has not accepted their invitation", u.Handle()).
				WithHint("send a new invitation link with roster invite resend %s", u.Handle())
		case roster.StatusDeactivated:
			return roster.Errorf(roster.ErrConflict, "%s is deactivated", u.Handle()).
				WithHint("reactivate the user first: roster user reactivate %s", u.Handle())
		}
		if set, err = o.settings(); err != nil {
			return err
		}
		if cfg, err = o.mailConfig(set, send); err != nil {
			return err
		}
		d, err := ttl(set, "reset.ttl", life)
		if err != nil {
			return err
		}
		if _, err := o.tx.RevokeLinks(ctx, u.ID, store.LinkReset, o.now, "replaced"); err != nil {
			return err
		}
		l, tok, err := o.newLink(store.LinkReset, u, nil, d)
		if err != nil {
			return err
		}
		sent = l
		rl = roster.ResetLink{Email: u.Email, ExpiresAt: l.ExpiresAt, Token: tok}
		if rl.URL, err = o.linkURL(set, "reset", tok); err != nil {
			return err
		}
		return o.audit("user.reset_link", u.Handle(), u.ID, map[string]any{"expires_at": l.ExpiresAt})
	})
	if err != nil {
		return roster.ResetLink{}, fmt.Errorf("reset link for %s: %w", roster.Quote(ref), err)
	}
	if send {
		rl.Sent, rl.MailError = s.deliver(ctx, cfg, resetMessage(set, rl, sent), "user.reset_link.send", sent)
	}
	return rl, nil
}

func (s *service) RedeemResetLink(ctx context.Context, tok, pw string) (roster.User, error) {
	u, err := s.redeem(ctx, store.LinkReset, tok, pw, func(o *op, l store.Link, u *store.UserRow) error {
		denied := roster.Errorf(roster.ErrForbidden, "%s, who issued this link, may no longer set your password (R11)", l.Creator).
			WithHint("ask an administrator for a new link")
		if err := o.checkCreator(l, *u, roster.PermUsersManage, nil, denied); err != nil {
			return err
		}
		// R18: a password set through a reset link ends every session
		// and every other pending link of the account.
		details, err := o.endCredentials(*u, 0, false)
		if err != nil {
			return err
		}
		return o.audit("user.reset_password", u.Handle(), u.ID, details)
	})
	if err != nil {
		return roster.User{}, fmt.Errorf("reset password: %w", err)
	}
	return u, nil
}

// deliver mails a link after its change committed. A failure leaves the
// change standing and is reported, never the secret; success is recorded
// on the link and in the audit log.
func (s *service) deliver(ctx context.Context, cfg mail.Config, m mail.Message, action string, l store.Link) (bool, string) {
	if err := s.core.send(ctx, cfg, m); err != nil {
		return false, err.Error()
	}
	err := s.write(ctx, func(o *op) error {
		if err := o.tx.MarkSent(ctx, l.ID, o.now); err != nil {
			return err
		}
		return o.audit(action, l.Email, l.UserID, map[string]any{"to": m.To})
	})
	if err != nil {
		return true, "sent, but not recorded: " + err.Error()
	}
	return true, ""
}

func orgName(set roster.Settings) string {
	if n := set["org.name"]; n != "" {
		return n
	}
	return "roster"
}

// howToUse tells a recipient how to redeem a link: the web page under
// base_url, or, when there is none, the command line, with the token read
// from a file (on argv other local users would see it).
func howToUse(url, command, tok string) string {
	if url != "" {
		return "  " + url
	}
	return "  " + tok + "\n\nSave it in a file, say link.txt, and run:\n\n  " + command + " --link-file link.txt"
}

func inviteMessage(set roster.Settings, inv roster.Invitation, from string, l store.Link) mail.Message {
	greeting := "Hello,"
	if inv.Name != "" {
		greeting = "Hello " + inv.Name + ","
	}
	body := fmt.Sprintf(`%s

You are invited to %s by %s, with the role %s.

To accept, choose your password here:

%s

%s
If you did not expect this invitation, you can ignore this message.
`, greeting, orgName(set), from, strings.Join(inv.Roles, ", "),
		howToUse(inv.URL, "roster invite accept", inv.Token), validity(l))
	return mail.Message{To: inv.Email, Subject: "You are invited to " + orgName(set), Body: body}
}

func resetMessage(set roster.Settings, rl roster.ResetLink, l store.Link) mail.Message {
	body := fmt.Sprintf(`Hello,

An administrator of %s issued a link for you to set a new password:

%s

%s
If you did not ask for this, tell your administrator.
`, orgName(set), howToUse(rl.URL, "roster account reset", rl.Token), validity(l))
	return mail.Message{To: rl.Email, Subject: "Set your " + orgName(set) + " password", Body: body}
}

func signInMessage(set roster.Settings, email, url string, l store.Link) mail.Message {
	body := fmt.Sprintf(`Hello,

Someone, probably you, asked to sign in to %s as %s. To sign in, open:

%s

%s
If it was not you, ignore this message: nothing changes without the link.
`, orgName(set), email, "  "+url, validity(l))
	return mail.Message{To: email, Subject: "Sign in to " + orgName(set), Body: body}
}

// validity says how long a link lasts, in the words of a mail.
func validity(l store.Link) string {
	return fmt.Sprintf("The link works once and lasts %s, until %s UTC.",
		Lifetime(l.ExpiresAt.Sub(l.CreatedAt)), l.ExpiresAt.UTC().Format("2006-01-02 15:04"))
}

// Lifetime writes a duration as a person would: "7 days", "24 hours",
// "30 minutes".
func Lifetime(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	}
	return plural(int64(d.Round(time.Minute)/time.Minute), "minute")
}
