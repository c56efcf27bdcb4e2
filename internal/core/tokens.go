package core

import (
	"context"
	"fmt"
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

func tokenLife(ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl == 0:
		return roster.DefaultTokenTTL, nil
	case ttl < time.Minute || ttl > roster.MaxTokenTTL:
		return 0, roster.Errorf(roster.ErrInvalid, "invalid token lifetime %s", ttl).WithHint("use 1m to 3650d")
	}
	return ttl, nil
}

func (s *service) CreateToken(ctx context.Context, p roster.CreateToken) (roster.APIToken, error) {
	var out roster.APIToken
	if err := roster.ValidateName(p.Name); err != nil {
		return out, err
	}
	life, err := tokenLife(p.TTL)
	if err != nil {
		return out, err
	}
	err = s.write(ctx, func(o *op) error {
		u, err := o.tokenOwner(p.User, true)
		if err != nil {
			return err
		}
		if status := u.StatusAt(o.now); status != roster.StatusActive {
			return roster.Errorf(roster.ErrConflict, "%s is %s and cannot hold tokens", u.Email, status)
		}
		out, err = o.mintToken(u, p.Name, life)
		return err
	})
	if err != nil {
		return roster.APIToken{}, fmt.Errorf("create token: %w", err)
	}
	return out, nil
}

// mintToken makes a new API token of u, shown this once.
func (o *op) mintToken(u store.UserRow, name string, life time.Duration) (roster.APIToken, error) {
	secret, hash := token.New(token.API)
	expires := o.now.Add(life)
	id, err := o.tx.InsertToken(o.ctx, u.ID, name, hash[:], o.act.name, o.now, &expires)
	if err != nil {
		return roster.APIToken{}, err
	}
	row, _, err := o.tx.TokenByID(o.ctx, id)
	if err != nil {
		return roster.APIToken{}, err
	}
	out := row.APIToken
	out.Token = secret
	return out, o.audit("token.create", u.Email, u.ID, map[string]any{"token_id": id, "name": name, "expires_at": expires})
}

func (s *service) ListTokens(ctx context.Context, user string) ([]roster.APIToken, error) {
	var out []roster.APIToken
	err := s.read(ctx, func(o *op) error {
		var uid int64
		// The local administrator, asking for no one, sees every token.
		if user != "" || !o.act.super {
			u, err := o.tokenOwner(user, false)
			if err != nil {
				return err
			}
			uid = u.ID
		}
		var err error
		out, err = o.tx.ListTokens(ctx, uid)
		return err
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

func (s *service) RotateToken(ctx context.Context, id int64) (roster.APIToken, error) {
	var out roster.APIToken
	err := s.write(ctx, func(o *op) error {
		t, err := o.ownToken(id)
		if err != nil {
			return err
		}
		if t.Revoked {
			return roster.Errorf(roster.ErrConflict, "token %d is revoked", id).WithHint("create a new one with roster token create")
		}
		life := roster.DefaultTokenTTL
		if t.ExpiresAt != nil {
			life = t.ExpiresAt.Sub(t.CreatedAt)
		}
		secret, hash := token.New(token.API)
		expires := o.now.Add(life)
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
// the user's current permissions. Unknown, malformed, revoked and expired
// tokens, and tokens of users who are not active, all fail alike with
// roster.ErrUnauthenticated.
func (c *Core) Authenticate(ctx context.Context, bearer string) (roster.Service, error) {
	fail := roster.Errorf(roster.ErrUnauthenticated, "invalid or expired token").
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
		if !found || tok.Revoked || (tok.ExpiresAt != nil && !now.Before(*tok.ExpiresAt)) || user.StatusAt(now) != roster.StatusActive {
			return fail
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
	// a minute per token, not once per request.
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) >= time.Minute {
		if err := c.db.Write(ctx, func(tx store.Tx) error { return tx.In(user.OrgID).TouchToken(ctx, tok.ID, now) }); err != nil {
			return nil, err
		}
	}
	actor := Actor{User: strconv.FormatInt(user.ID, 10), Via: "token:" + strconv.FormatInt(tok.ID, 10)}
	return &service{core: c, actor: actor, signedIn: &user, home: user.OrgID}, nil
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
