package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/store"
)

const sessionColumns = `sessions.id, sessions.user_id, sessions.token_hash, sessions.method, sessions.address,
	sessions.created_at, sessions.last_seen_at, sessions.expires_at`

func scanSession(s pgx.Row) (store.SessionRow, error) {
	var r store.SessionRow
	if err := s.Scan(&r.ID, &r.UserID, &r.TokenHash, &r.Method, &r.Address, &r.CreatedAt, &r.LastSeenAt, &r.ExpiresAt); err != nil {
		return r, err
	}
	r.CreatedAt, r.LastSeenAt, r.ExpiresAt = r.CreatedAt.UTC(), r.LastSeenAt.UTC(), r.ExpiresAt.UTC()
	return r, nil
}

// InsertSession stores a new session and returns its id.
func (t *Tx) InsertSession(ctx context.Context, s store.SessionRow) (int64, error) {
	var id int64
	err := t.queryRow(ctx, `INSERT INTO sessions (user_id, token_hash, method, address, created_at, last_seen_at, expires_at)
		SELECT $1, $2, $3, $4, $5, $6, $7 WHERE `+userOf("$1::bigint", "$8")+` RETURNING id`,
		s.UserID, s.TokenHash, s.Method, s.Address, s.CreatedAt, s.LastSeenAt, s.ExpiresAt, t.org).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, userIDNotFound(s.UserID)
	}
	if err != nil {
		return 0, fmt.Errorf("insert session: %w", err)
	}
	return id, nil
}

// SessionUser finds a session by its token's hash with its user, in one
// statement and in whatever organisation, as TokenUser does for tokens.
func (t *Tx) SessionUser(ctx context.Context, hash []byte) (store.SessionRow, store.UserRow, bool, error) {
	row := t.queryRow(ctx, `SELECT `+sessionColumns+`, `+userColumns+` FROM sessions
		JOIN users ON users.id = sessions.user_id WHERE sessions.token_hash = $1`, hash)
	s, u, err := scanWithUser(row, scanSession)
	ok, err := found(err)
	return s, u, ok, err
}

// TouchSession records activity on a session at now, if the last
// recorded is at or before stale.
func (t *Tx) TouchSession(ctx context.Context, id int64, now, stale time.Time) error {
	_, err := t.exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at <= $3 AND `+userOf("user_id", "$4"),
		now, id, stale, t.org)
	return err
}

// EndSessionsExcept deletes a user's sessions but keep, and returns how
// many it deleted.
func (t *Tx) EndSessionsExcept(ctx context.Context, userID, keep int64) (int, error) {
	tag, err := t.exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2 AND `+userOf("user_id", "$3"), userID, keep, t.org)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// EndSessions deletes a user's sessions, or only the one with id when
// id != 0, and returns how many it deleted.
func (t *Tx) EndSessions(ctx context.Context, userID, id int64) (int, error) {
	q := `DELETE FROM sessions WHERE user_id = $1 AND ` + userOf("user_id", "$2")
	args := []any{userID, t.org}
	if id != 0 {
		q += ` AND id = $3`
		args = append(args, id)
	}
	tag, err := t.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// NoticesSeen returns the id of the newest audit event a user has seen as
// a notice, or 0 when they never looked.
func (t *Tx) NoticesSeen(ctx context.Context, userID int64) (int64, error) {
	var id int64
	err := t.queryRow(ctx, `SELECT audit_id FROM notices_seen WHERE user_id = $1 AND `+userOf("user_id", "$2"), userID, t.org).Scan(&id)
	_, err = found(err) // none: 0
	return id, err
}

// SetNoticesSeen records that a user has seen notices up to an event.
func (t *Tx) SetNoticesSeen(ctx context.Context, userID, auditID int64) error {
	tag, err := t.exec(ctx, `INSERT INTO notices_seen (user_id, audit_id) SELECT $1, $2 WHERE `+userOf("$1::bigint", "$3")+`
		ON CONFLICT (user_id) DO UPDATE SET audit_id = excluded.audit_id`, userID, auditID, t.org)
	if err == nil && tag.RowsAffected() == 0 {
		return userIDNotFound(userID)
	}
	return err
}
