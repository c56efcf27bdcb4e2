package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

const tokenColumns = `api_tokens.id, api_tokens.user_id, ` + userHandle + `, api_tokens.name, api_tokens.created_at,
	api_tokens.expires_at, api_tokens.last_used_at, api_tokens.revoked_at IS NOT NULL,
	api_tokens.scope, api_tokens.last_used_from`

func scanToken(s scanner) (store.TokenRow, error) {
	var t store.TokenRow
	var created int64
	var expires, used sql.NullInt64
	var scope sql.NullString
	if err := s.Scan(&t.ID, &t.UserID, &t.User, &t.Name, &created, &expires, &used, &t.Revoked, &scope, &t.LastUsedFrom); err != nil {
		return t, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = fromMicros(created), timePtr(expires), timePtr(used)
	t.Scope = store.ScopeOf(scope)
	return t, nil
}

// InsertToken stores a token and returns its id.
func (t *Tx) InsertToken(ctx context.Context, userID int64, name string, hash []byte, creator string, now time.Time, expires *time.Time) (int64, error) {
	res, err := t.exec(ctx, `INSERT INTO api_tokens (user_id, name, token_hash, creator, created_at, expires_at)
		VALUES (`+orgUser+`, ?, ?, ?, ?, ?)`, userID, t.org, name, hash, creator, micros(now), nullMicros(expires))
	if err != nil {
		return 0, fmt.Errorf("insert token: %w", err)
	}
	return res.LastInsertId()
}

// TokenByID finds a token; found is false when there is none.
func (t *Tx) TokenByID(ctx context.Context, id int64) (store.TokenRow, bool, error) {
	return t.tokenWhere(ctx, `api_tokens.id = ?`, id)
}

// TokenByHash finds a token by its hash.
func (t *Tx) TokenByHash(ctx context.Context, hash []byte) (store.TokenRow, bool, error) {
	return t.tokenWhere(ctx, `api_tokens.token_hash = ?`, hash)
}

// TokenUser finds a token by its hash with its user, in one statement.
func (t *Tx) TokenUser(ctx context.Context, hash []byte) (store.TokenRow, store.UserRow, bool, error) {
	row := t.queryRow(ctx, `SELECT `+tokenColumns+`, `+userColumns+` FROM api_tokens
		JOIN users ON users.id = api_tokens.user_id WHERE api_tokens.token_hash = ?`, hash)
	tok, u, err := scanWithUser(row, scanToken)
	if errors.Is(err, sql.ErrNoRows) {
		return tok, u, false, nil
	}
	return tok, u, err == nil, err
}

// scanWithUser scans a row of scan's columns followed by userColumns.
func scanWithUser[T any](row scanner, scan func(scanner) (T, error)) (T, store.UserRow, error) {
	return store.ScanJoined(row, func(s store.Scanner) (T, error) { return scan(s) },
		func(s store.Scanner) (store.UserRow, error) { return scanUser(s) })
}

func (t *Tx) tokenWhere(ctx context.Context, cond string, arg any) (store.TokenRow, bool, error) {
	row, err := scanToken(t.queryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens
		JOIN users ON users.id = api_tokens.user_id WHERE `+cond+` AND users.org_id = ?`, arg, t.org))
	if errors.Is(err, sql.ErrNoRows) {
		return row, false, nil
	}
	return row, err == nil, err
}

// ListTokens lists tokens, of one user or (userID 0) of everyone.
func (t *Tx) ListTokens(ctx context.Context, userID int64) ([]roster.APIToken, error) {
	q := `SELECT ` + tokenColumns + ` FROM api_tokens JOIN users ON users.id = api_tokens.user_id WHERE users.org_id = ?`
	args := []any{t.org}
	if userID != 0 {
		q += ` AND api_tokens.user_id = ?`
		args = append(args, userID)
	}
	out, err := collect(ctx, t, q+` ORDER BY api_tokens.id`, args, func(s scanner) (roster.APIToken, error) {
		tok, err := scanToken(s)
		return tok.APIToken, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeTokens revokes a user's live tokens, or one token when id != 0,
// and returns how many it revoked.
func (t *Tx) RevokeTokens(ctx context.Context, userID, id int64, now time.Time) (int, error) {
	q := `UPDATE api_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND ` + inOrg("api_tokens.user_id") + ` AND `
	args := []any{micros(now), t.org}
	if id != 0 {
		q += `id = ?`
		args = append(args, id)
	} else {
		q += `user_id = ?`
		args = append(args, userID)
	}
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("revoke tokens: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// TouchToken records a use and where it came from, at most once a
// minute, to spare writes.
func (t *Tx) TouchToken(ctx context.Context, id int64, now time.Time, from string) error {
	_, err := t.exec(ctx, `UPDATE api_tokens SET last_used_at = ?, last_used_from = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?) AND `+inOrg("api_tokens.user_id"),
		micros(now), from, id, micros(now.Add(-time.Minute)), t.org)
	return err
}

// SetTokenScope limits a token to scope's permissions (nil: all).
func (t *Tx) SetTokenScope(ctx context.Context, id int64, scope []string) error {
	_, err := t.exec(ctx, `UPDATE api_tokens SET scope = ? WHERE id = ? AND `+inOrg("api_tokens.user_id"),
		store.ScopeText(scope), id, t.org)
	if err != nil {
		return fmt.Errorf("set token scope: %w", err)
	}
	return nil
}

// ReplaceTokenSecret gives a token a new secret and lifetime (rotation).
func (t *Tx) ReplaceTokenSecret(ctx context.Context, id int64, hash []byte, now time.Time, expires *time.Time) error {
	_, err := t.exec(ctx, `UPDATE api_tokens SET token_hash = ?, created_at = ?, expires_at = ?, last_used_at = NULL, last_used_from = ''
		WHERE id = ? AND `+inOrg("api_tokens.user_id"), hash, micros(now), nullMicros(expires), id, t.org)
	return err
}
