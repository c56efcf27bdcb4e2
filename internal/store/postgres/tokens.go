package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

const tokenColumns = `api_tokens.id, api_tokens.user_id, ` + userHandle + `, api_tokens.name, api_tokens.created_at,
	api_tokens.expires_at, api_tokens.last_used_at, api_tokens.revoked_at IS NOT NULL,
	api_tokens.scope, api_tokens.last_used_from`

// tokenFrom is where tokens are read: with their users, whose organisation
// they are of.
const tokenFrom = ` FROM api_tokens JOIN users ON users.id = api_tokens.user_id`

func scanToken(s pgx.Row) (store.TokenRow, error) {
	var t store.TokenRow
	var scope sql.NullString
	if err := s.Scan(&t.ID, &t.UserID, &t.User, &t.Name, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt, &t.Revoked, &scope, &t.LastUsedFrom); err != nil {
		return t, err
	}
	t.Scope = store.ScopeOf(scope)
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = t.CreatedAt.UTC(), utcPtr(t.ExpiresAt), utcPtr(t.LastUsedAt)
	return t, nil
}

// InsertToken stores a token and returns its id.
func (t *Tx) InsertToken(ctx context.Context, userID int64, name string, hash []byte, creator string, now time.Time, expires *time.Time) (int64, error) {
	var id int64
	err := t.queryRow(ctx, `INSERT INTO api_tokens (user_id, name, token_hash, creator, created_at, expires_at)
		SELECT $1, $2, $3, $4, $5, $6 WHERE `+userOf("$1::bigint", "$7")+` RETURNING id`, userID, name, hash, creator, now, expires, t.org).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, userIDNotFound(userID)
	}
	if err != nil {
		return 0, fmt.Errorf("insert token: %w", err)
	}
	return id, nil
}

// TokenByID finds a token; found is false when there is none.
func (t *Tx) TokenByID(ctx context.Context, id int64) (store.TokenRow, bool, error) {
	return t.tokenWhere(ctx, `api_tokens.id = $2`, id)
}

// TokenByHash finds a token by its hash.
func (t *Tx) TokenByHash(ctx context.Context, hash []byte) (store.TokenRow, bool, error) {
	return t.tokenWhere(ctx, `api_tokens.token_hash = $2`, hash)
}

// TokenUser finds a token by its hash with its user, in one statement and
// in whatever organisation: the user says which.
func (t *Tx) TokenUser(ctx context.Context, hash []byte) (store.TokenRow, store.UserRow, bool, error) {
	row := t.queryRow(ctx, `SELECT `+tokenColumns+`, `+userColumns+tokenFrom+` WHERE api_tokens.token_hash = $1`, hash)
	tok, u, err := scanWithUser(row, scanToken)
	ok, err := found(err)
	return tok, u, ok, err
}

// scanWithUser scans a row of scan's columns followed by userColumns.
func scanWithUser[T any](row pgx.Row, scan func(pgx.Row) (T, error)) (T, store.UserRow, error) {
	return store.ScanJoined(row, func(s store.Scanner) (T, error) { return scan(s) },
		func(s store.Scanner) (store.UserRow, error) { return scanUser(s) })
}

func (t *Tx) tokenWhere(ctx context.Context, cond string, arg any) (store.TokenRow, bool, error) {
	row, err := scanToken(t.queryRow(ctx, `SELECT `+tokenColumns+tokenFrom+` WHERE users.org_id = $1 AND `+cond, t.org, arg))
	ok, err := found(err)
	return row, ok, err
}

// ListTokens lists tokens, of one user or (userID 0) of everyone.
func (t *Tx) ListTokens(ctx context.Context, userID int64) ([]roster.APIToken, error) {
	q := `SELECT ` + tokenColumns + tokenFrom + ` WHERE users.org_id = $1`
	args := []any{t.org}
	if userID != 0 {
		q += ` AND api_tokens.user_id = $2`
		args = append(args, userID)
	}
	out, err := collect(ctx, t, q+` ORDER BY api_tokens.id`, args, func(r pgx.Row) (roster.APIToken, error) {
		tok, err := scanToken(r)
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
	q := `UPDATE api_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND user_id = $2`
	arg := userID
	if id != 0 {
		q = `UPDATE api_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND id = $2`
		arg = id
	}
	tag, err := t.exec(ctx, q+` AND `+userOf("user_id", "$3"), now, arg, t.org)
	if err != nil {
		return 0, fmt.Errorf("revoke tokens: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// TouchToken records a use and where it came from, at most once a
// minute, to spare writes.
func (t *Tx) TouchToken(ctx context.Context, id int64, now time.Time, from string) error {
	_, err := t.exec(ctx, `UPDATE api_tokens SET last_used_at = $1, last_used_from = $5
		WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3) AND `+userOf("user_id", "$4"),
		now, id, now.Add(-time.Minute), t.org, from)
	return err
}

// SetTokenScope limits a token to scope's permissions (nil: all).
func (t *Tx) SetTokenScope(ctx context.Context, id int64, scope []string) error {
	_, err := t.exec(ctx, `UPDATE api_tokens SET scope = $1 WHERE id = $2 AND `+userOf("user_id", "$3"),
		store.ScopeText(scope), id, t.org)
	if err != nil {
		return fmt.Errorf("set token scope: %w", err)
	}
	return nil
}

// ReplaceTokenSecret gives a token a new secret and lifetime (rotation).
func (t *Tx) ReplaceTokenSecret(ctx context.Context, id int64, hash []byte, now time.Time, expires *time.Time) error {
	_, err := t.exec(ctx, `UPDATE api_tokens SET token_hash = $1, created_at = $2, expires_at = $3, last_used_at = NULL, last_used_from = ''
		WHERE id = $4 AND `+userOf("user_id", "$5"), hash, now, expires, id, t.org)
	return err
}
