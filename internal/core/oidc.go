package core

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// WithProviders names the identity providers the host offers (R16), in
// the order the sign-in page lists them.
func WithProviders(names []string) Option {
	return func(c *Core) { c.providers = names }
}

// offered is every sign-in method this server offers.
func (c *Core) offered() []string {
	return append([]string{roster.MethodPassword, roster.MethodLink}, c.providers...)
}

// SignInMethods are the sign-in methods offered that the organisation of
// ctx turns on (signin.methods).
func (c *Core) SignInMethods(ctx context.Context) ([]string, error) {
	var on []string
	s := &service{core: c, actor: Actor{User: nobody, Via: "signin"}}
	err := s.anonymous(ctx, false, func(o *op) error {
		set, err := o.settings()
		on = roster.MethodsOn(set["signin.methods"], c.offered())
		return err
	})
	return on, err
}

// methodOff is the refusal of a sign-in method the organisation turned
// off, or nil when it is on.
func (o *op) methodOff(method string) error { return o.core.methodOff(o.ctx, o.tx, method) }

// methodOff is the refusal of a sign-in method tx's organisation turned
// off, or nil when it is on.
func (c *Core) methodOff(ctx context.Context, tx store.Tx, method string) error {
	stored, err := orgSettings(ctx, tx)
	if err != nil {
		return err
	}
	if roster.MethodOn(c.settings(stored)["signin.methods"], method) {
		return nil
	}
	return roster.Errorf(roster.ErrForbidden, "signing in with %s is turned off in this organisation", method).
		WithHint("sign in another way, or ask an administrator")
}

// Why a provider's sign-in is refused, as audited.
const (
	refusedMethod     = "method turned off"
	refusedUnknown    = "unknown identity"
	refusedUnverified = "email not verified"
	refusedInactive   = "account not active"
	refusedOrg        = "organisation suspended"
	refusedAnswer     = "answer refused" // the flow or the ID token
)

// ProviderSession signs in, with a new browser session, the user an
// identity provider vouches for, in the organisation of ctx, and returns
// the session's secret. Nobody is made (no self-registration): the
// identity must name an existing user. A subject bound before (the link
// oidc:NAME, by an earlier sign-in or an administrator) finds its user
// alone, whatever email the provider says now; an unbound one finds the
// user with its email only when the provider vouches for that email
// (email_verified), and is then bound to them. An invited user found so
// accepts their invitation. Every outcome is audited, refusals too.
func (c *Core) ProviderSession(ctx context.Context, id roster.Identity) (string, error) {
	var secret string
	var refusal error
	s := &service{core: c, actor: Actor{User: nobody, Via: id.Provider}}
	err := s.anonymous(ctx, true, func(o *op) error {
		o.act.via = id.Provider
		u, details, reason, err := o.providerUser(id)
		if err != nil {
			return err
		}
		if reason != "" {
			refusal = providerRefusal(id.Provider, reason)
			details["reason"] = reason
			return o.audit("account.signin_refused", u.Handle(), u.ID, details)
		}
		o.act = o.principal(u, id.Provider)
		if u.Status == roster.StatusInvited {
			if err := o.acceptByProvider(&u, id.Provider); err != nil {
				return err
			}
		}
		var more map[string]any
		if secret, more, err = o.startSession(id.Provider); err != nil {
			return err
		}
		u.LastLoginAt, u.LastLoginMethod, u.UpdatedAt = &o.now, id.Provider, o.now
		if err := o.tx.UpdateUser(o.ctx, u); err != nil {
			return err
		}
		for k, v := range more {
			details[k] = v
		}
		return o.audit("account.signin", u.Handle(), u.ID, details)
	})
	if err == nil {
		err = refusal
	}
	return secret, err
}

// providerRefusal is what a person refused by a provider's sign-in is
// told: whether the method is off, else only that no account here is
// theirs, which says nothing of whose accounts exist.
func providerRefusal(provider, reason string) error {
	switch reason {
	case refusedMethod:
		return roster.Errorf(roster.ErrForbidden, "signing in with %s is turned off in this organisation", provider).
			WithHint("sign in another way, or ask an administrator")
	case refusedOrg:
		return failedSignIn()
	}
	return roster.Errorf(roster.ErrUnauthenticated, "no account here can be signed in to with this %s identity", provider).
		WithHint("sign in another way, or ask an administrator to link your account (oidc:" + provider + ")")
}

// providerUser finds the user id names, binding the identity to them on
// a first sign-in the provider vouches for. reason is set when the
// sign-in is refused; details are the audit's.
func (o *op) providerUser(id roster.Identity) (u store.UserRow, details map[string]any, reason string, err error) {
	kind := roster.ProviderLink(id.Provider)
	details = map[string]any{"method": id.Provider, "subject": id.Subject}
	if id.Email != "" {
		details["email"] = id.Email
	}
	if err := o.methodOff(id.Provider); errors.Is(err, roster.ErrForbidden) {
		return u, details, refusedMethod, nil
	} else if err != nil {
		return u, details, "", err
	}
	if org, err := o.orgRow(); err != nil {
		return u, details, "", err
	} else if org.Status != roster.OrgActive {
		return u, details, refusedOrg, nil
	}
	uid, err := o.tx.LinkTaken(o.ctx, kind, id.Subject)
	if err != nil {
		return u, details, "", err
	}
	if uid != 0 {
		u, err = o.tx.UserByRef(o.ctx, strconv.FormatInt(uid, 10))
		if err != nil {
			return u, details, "", err
		}
		return u, details, usable(u, o.now), nil
	}
	if !id.EmailVerified {
		return u, details, refusedUnverified, nil
	}
	email, err := roster.NormalizeEmail(id.Email)
	if err != nil {
		return u, details, refusedUnknown, nil
	}
	u, err = o.tx.UserByRef(o.ctx, email)
	if errors.Is(err, roster.ErrNotFound) {
		return store.UserRow{}, details, refusedUnknown, nil
	} else if err != nil {
		return u, details, "", err
	}
	// An account bound to another subject of this provider is not this
	// identity's, whatever email it now claims.
	if _, bound := u.Links[kind]; bound {
		return u, details, refusedUnknown, nil
	}
	if reason := usable(u, o.now); reason != "" {
		return u, details, reason, nil
	}
	if err := o.tx.SetLink(o.ctx, u.ID, kind, id.Subject); err != nil {
		return u, details, "", err
	}
	if u.Links == nil {
		u.Links = map[string]string{}
	}
	u.Links[kind] = id.Subject
	details["linked"] = kind
	return u, details, "", nil
}

// usable is why u cannot sign in with a provider, or "": active users
// sign in, invited ones accept their invitation so; an expired account
// does neither.
func usable(u store.UserRow, now time.Time) string {
	if u.Service() {
		return refusedInactive
	}
	if st := u.StatusAt(now); st == roster.StatusActive || st == roster.StatusInvited {
		return ""
	}
	return refusedInactive
}

// acceptByProvider accepts u's pending invitation, as signing in with a
// provider does for an invited user: the same checks as accepting it
// with a password (R9, R11), the invitation used up.
func (o *op) acceptByProvider(u *store.UserRow, provider string) error {
	l, found, err := o.tx.LatestLink(o.ctx, u.ID, store.LinkInvite)
	if err != nil {
		return err
	}
	if !found {
		return unknownLink("invitation")
	}
	if err := deadLink("invitation", l, o.now); err != nil {
		return err
	}
	denied := roster.Errorf(roster.ErrForbidden, "%s, who invited you, can no longer grant these roles (R11)", l.Creator).
		WithHint("ask an administrator for a new invitation")
	if err := o.checkCreator(l, *u, roster.PermUsersCreate, u.Roles, denied); err != nil {
		return err
	}
	if err := o.checkSeat(); err != nil {
		return err
	}
	if ok, err := o.tx.ConsumeLink(o.ctx, l.ID, o.now); err != nil {
		return err
	} else if !ok {
		return roster.Errorf(roster.ErrConflict, "this invitation was already used")
	}
	u.Status = roster.StatusActive
	return o.audit("invite.accept", u.Handle(), u.ID, map[string]any{"roles": u.Roles, "method": provider})
}

// ProviderRefused records, in the organisation of ctx, a provider's
// sign-in the server refused before it named anyone: a callback without
// this browser's flow, or an ID token forged, expired, for another client
// or of another flow. why says which, in at most 200 characters.
func (c *Core) ProviderRefused(ctx context.Context, provider, why string) error {
	if len(why) > 200 {
		why = why[:200]
	}
	s := &service{core: c, actor: Actor{User: nobody, Via: provider}}
	return s.anonymous(ctx, true, func(o *op) error {
		o.act.via = provider
		return o.audit("account.signin_refused", "", 0, map[string]any{"method": provider, "reason": refusedAnswer, "error": why})
	})
}
