package core

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/token"
)

// tokenOwner loads the user whose tokens a command is about ("" is the
// actor) and checks the actor may manage them: anyone their own; others
// need tokens.manage. With change set (mint, rotate, revoke), the actor
// acts on that user's credentials, so R5 and R14 apply: they must hold all
// the user holds and be an owner for an owner.
func (o *op) tokenOwner(ref string, change bool) (store.UserRow, error) {
	if ref == "" {
		if o.act.user == nil {
			return store.UserRow{}, roster.Errorf(roster.ErrInvalid, "the local administrator has no account to hold tokens").
				WithHint("name the user with --user USER")
		}
		return *o.act.user, nil
	}
	u, err := o.tx.UserByRef(o.ctx, ref)
	if err != nil || o.act.is(u) {
		return u, err
	}
	if err := o.require(roster.PermTokensManage); err != nil {
		return u, err
	}
	if change {
		if err := o.checkActOn(u, "manage the tokens of"); err != nil {
			return u, err
		}
	}
	return u, nil
}

// tokenEnd is when a new or rotated token ends: ttl from now, or at,
// or with neither keep from now. Nothing is beyond the organisation's
// tokens.max_ttl: asking for more is refused; keep (the default of a new
// token, or a rotated token's lifetime) is cut to it.
func (o *op) tokenEnd(ttl time.Duration, at *time.Time, keep time.Duration) (time.Time, error) {
	set, err := o.settings()
	if err != nil {
		return time.Time{}, err
	}
	limit, err := roster.ParseDuration(set["tokens.max_ttl"])
	if err != nil {
		return time.Time{}, err
	}
	switch {
	case ttl != 0 && at != nil:
		return time.Time{}, roster.Errorf(roster.ErrInvalid, "give a token a lifetime or an end date, not both")
	case at != nil:
		ttl = at.Sub(o.now)
		if ttl <= 0 {
			return time.Time{}, roster.Errorf(roster.ErrInvalid, "expiry %s is not in the future", at.UTC().Format(time.RFC3339)).
				WithHint("give a later date, or a duration such as 30d")
		}
	case ttl == 0:
		return o.now.Add(min(keep, limit)), nil
	}
	if ttl < time.Minute && at == nil {
		return time.Time{}, roster.Errorf(roster.ErrInvalid, "invalid token lifetime %s", ttl).WithHint("use 1m at least")
	}
	if ttl > limit {
		return time.Time{}, roster.Errorf(roster.ErrInvalid, "a token may live at most %s in this organisation (tokens.max_ttl), not %s",
			set["tokens.max_ttl"], roster.FormatDuration(ttl)).
			WithHint("ask for less, or have someone with settings.manage raise tokens.max_ttl")
	}
	return o.now.Add(ttl), nil
}

// tokenScope checks a scope asked for a new token of u (R4 applied to a
// scope): every permission named must exist and be held by the actor,
// and an actor acting through a scoped token can only mint a scoped one,
// or it would escape its own scope. It returns the scope sorted, without
// repeats; nil for none.
func (o *op) tokenScope(scope []string) ([]string, error) {
	if scope == nil {
		if o.act.scoped {
			return nil, roster.Errorf(roster.ErrForbidden, "a scoped token can only make scoped tokens").
				WithHint("give --scope with permissions within this token's scope")
		}
		return nil, nil
	}
	if len(scope) == 0 {
		return nil, roster.Errorf(roster.ErrInvalid, "an empty scope allows nothing").WithHint("name at least one permission, or leave --scope out")
	}
	out := slices.Clone(scope)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, p := range out {
		if _, ok := o.cat.Permission(p); !ok {
			return nil, roster.Errorf(roster.ErrInvalid, "unknown permission %q in the scope", p).WithHint("see roster permission list")
		}
	}
	if err := o.checkHolds("the scope", out); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *service) CreateToken(ctx context.Context, p roster.CreateToken) (roster.APIToken, error) {
	var out roster.APIToken
	if err := roster.ValidateName(p.Name); err != nil {
		return out, err
	}
	err := s.write(ctx, func(o *op) error {
		u, err := o.tokenOwner(p.User, true)
		if err != nil {
			return err
		}
		if status := u.StatusAt(o.now); status != roster.StatusActive {
			return roster.Errorf(roster.ErrConflict, "%s is %s and cannot hold tokens", u.Handle(), status)
		}
		scope, err := o.tokenScope(p.Scope)
		if err != nil {
			return err
		}
		end, err := o.tokenEnd(p.TTL, p.ExpiresAt, roster.DefaultTokenTTL)
		if err != nil {
			return err
		}
		out, err = o.mintToken(u, p.Name, end, scope)
		return err
	})
	if err != nil {
		return roster.APIToken{}, fmt.Errorf("create token: %w", err)
	}
	return out, nil
}

// mintToken makes a new API token of u, ending at expires and limited to
// scope (nil: none), shown this once.
func (o *op) mintToken(u store.UserRow, name string, expires time.Time, scope []string) (roster.APIToken, error) {
	secret, hash := token.New(token.API)
	id, err := o.tx.InsertToken(o.ctx, u.ID, name, hash[:], o.act.name, o.now, &expires)
	if err != nil {
		return roster.APIToken{}, err
	}
	if scope != nil {
		if err := o.tx.SetTokenScope(o.ctx, id, scope); err != nil {
			return roster.APIToken{}, err
		}
	}
	row, _, err := o.tx.TokenByID(o.ctx, id)
	if err != nil {
		return roster.APIToken{}, err
	}
	out := row.APIToken
	out.Token = secret
	details := map[string]any{"token_id": id, "name": name, "expires_at": expires}
	if scope != nil {
		details["scope"] = scope
	}
	return out, o.audit("token.create", u.Handle(), u.ID, details)
}

func (s *service) ListTokens(ctx context.Context, f roster.TokenFilter) ([]roster.APIToken, error) {
	var out []roster.APIToken
	if f.Expiring < 0 {
		return nil, roster.Errorf(roster.ErrInvalid, "invalid expiring window %s", f.Expiring).WithHint("give a duration such as 7d")
	}
	err := s.read(ctx, func(o *op) error {
		var uid int64
		// The local administrator, asking for no one, sees every token.
		if f.User != "" || !o.act.super {
			u, err := o.tokenOwner(f.User, false)
			if err != nil {
				return err
			}
			uid = u.ID
		}
		all, err := o.tx.ListTokens(ctx, uid)
		if f.Expiring == 0 || err != nil {
			out = all
			return err
		}
		// Live tokens that end within the window: an expired or revoked
		// one is no longer about to lose anything.
		out = []roster.APIToken{}
		until := o.now.Add(f.Expiring)
		for _, t := range all {
			if !t.Revoked && t.ExpiresAt != nil && t.ExpiresAt.After(o.now) && !t.ExpiresAt.After(until) {
				out = append(out, t)
			}
		}
		return nil
	})
	return out, err
}

// ownToken loads a token the actor may change.
func (o *op) ownToken(id int64) (store.TokenRow, error) {
	t, found, err := o.tx.TokenByID(o.ctx, id)
	if err != nil {
		return t, err
	}
	if !found {
		return t, roster.Errorf(roster.ErrNotFound, "token %d not found", id).WithHint("see roster token list")
	}
	if _, err := o.tokenOwner(strconv.FormatInt(t.UserID, 10), true); err != nil {
		// Someone else's token, for one who may not manage it, is not told.
		if o.act.user != nil && !o.act.has(roster.PermTokensManage) {
			return t, roster.Errorf(roster.ErrNotFound, "token %d not found", id).WithHint("see roster token list")
		}
		return t, err
	}
	return t, nil
}

func (s *service) RevokeToken(ctx context.Context, id int64) (roster.TokenResult, error) {
	var res roster.TokenResult
	err := s.write(ctx, func(o *op) error {
		t, err := o.ownToken(id)
		if err != nil {
			return err
		}
		n, err := o.tx.RevokeTokens(ctx, 0, id, o.now)
		if err != nil {
			return err
		}
		row, _, err := o.tx.TokenByID(ctx, id)
		res = roster.TokenResult{Token: row.APIToken, Changed: n > 0}
		if err != nil || n == 0 {
			return err
		}
		return o.audit("token.revoke", t.User, t.UserID, map[string]any{"token_id": id, "name": t.Name})
	})
	if err != nil {
		return roster.TokenResult{}, fmt.Errorf("revoke token %d: %w", id, err)
	}
	return res, nil
}

func (s *service) RotateToken(ctx context.Context, p roster.RotateToken) (roster.APIToken, error) {
	var out roster.APIToken
	id := p.ID
	err := s.write(ctx, func(o *op) error {
		t, err := o.ownToken(id)
		if err != nil {
			return err
		}
		if t.Revoked {
			return roster.Errorf(roster.ErrConflict, "token %d is revoked", id).WithHint("create a new one with roster token create")
		}
		// Rotating hands over a token's secret: through a scoped token,
		// only of a token scoped within it, or the scope would be escaped.
		if o.act.scoped {
			if t.Scope == nil {
				return roster.Errorf(roster.ErrForbidden, "a scoped token cannot rotate token %d, which has no scope", id).
					WithHint("rotate it with an unscoped token")
			}
			if err := o.checkHolds(fmt.Sprintf("token %d's scope", id), t.Scope); err != nil {
				return err
			}
		}
		life := roster.DefaultTokenTTL
		if t.ExpiresAt != nil {
			life = t.ExpiresAt.Sub(t.CreatedAt)
		}
		expires, err := o.tokenEnd(p.TTL, p.ExpiresAt, life)
		if err != nil {
			return err
		}
		secret, hash := token.New(token.API)
		if err := o.tx.ReplaceTokenSecret(ctx, id, hash[:], o.now, &expires); err != nil {
			return err
		}
		row, _, err := o.tx.TokenByID(ctx, id)
		if err != nil {
			return err
		}
		out = row.APIToken
		out.Token = secret
		return o.audit("token.rotate", t.User, t.UserID, map[string]any{"token_id": id, "expires_at": expires})
	})
	if err != nil {
		return roster.APIToken{}, fmt.Errorf("rotate token %d: %w", id, err)
	}
	return out, nil
}

// Authenticate turns a bearer token into a Service acting as its user with
// the user's current permissions, within the token's scope if it has one.
// Unknown, malformed and revoked tokens, and tokens of users who are not
// active, all fail alike with roster.ErrUnauthenticated; an expired one
// says it expired, which tells its holder nothing new but what to do.
func (c *Core) Authenticate(ctx context.Context, bearer string) (roster.Service, error) {
	fail := roster.Errorf(roster.ErrUnauthenticated, "invalid token").
		WithHint("sign in again with roster login, or use a valid token")
	hash, err := token.Parse(token.API, bearer)
	if err != nil {
		return nil, fail
	}
	// A read, and one statement: checking a token must not take the
	// store's write lock, or every request would queue behind every other,
	// and as one statement it needs no transaction (Lookup). It finds the
	// token and its user; the reads of this request then act on that user
	// (see service.signedIn).
	var tok store.TokenRow
	var user store.UserRow
	now := c.now()
	err = c.db.Lookup(ctx, func(tx store.Tx) error {
		var found bool
		tok, user, found, err = tx.TokenUser(ctx, hash[:])
		if err != nil {
			return err
		}
		if !found || tok.Revoked || user.StatusAt(now) != roster.StatusActive {
			return fail
		}
		if tok.ExpiresAt != nil && !now.Before(*tok.ExpiresAt) {
			return roster.Errorf(roster.ErrUnauthenticated, "this token expired at %s", tok.ExpiresAt.UTC().Format(time.RFC3339)).
				WithHint("sign in again with roster login, or have a new token made with roster token create")
		}
		if user.OrgStatus != roster.OrgActive {
			return roster.Errorf(roster.ErrUnauthenticated, "this token's organisation is suspended").
				WithHint("a system administrator can resume it")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// last_used_at is kept to the minute, so a write is needed about once
	// a minute per token, not once per request; the address goes with it.
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) >= time.Minute {
		from := roster.ClientOf(ctx)
		if err := c.db.Write(ctx, func(tx store.Tx) error { return tx.In(user.OrgID).TouchToken(ctx, tok.ID, now, from) }); err != nil {
			return nil, err
		}
	}
	actor := Actor{User: strconv.FormatInt(user.ID, 10), Via: "token:" + strconv.FormatInt(tok.ID, 10)}
	return &service{core: c, actor: actor, signedIn: &user, home: user.OrgID, scope: tok.Scope}, nil
}

// Public is all a caller without a token may do: redeem a link, whose
// token is its credential.
type Public interface {
	AcceptInvitation(ctx context.Context, p roster.AcceptInvitation) (roster.User, error)
	RedeemResetLink(ctx context.Context, token, password string) (roster.User, error)
}

// nobody is a user reference that resolves to no one: a Service acting as
// it fails every call that needs a principal.
const nobody = "-"

// Public returns what callers without a token may use.
func (c *Core) Public() Public { return &service{core: c, actor: Actor{User: nobody, Via: "link"}} }

// Ready reports whether the store answers.
func (c *Core) Ready(ctx context.Context) error {
	return c.db.Read(ctx, func(tx store.Tx) error {
		_, err := tx.Settings(ctx)
		return err
	})
}
