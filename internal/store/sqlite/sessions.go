package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/roster-dev/roster/internal/store"
)

const sessionColumns = `sessions.id, sessions.user_id, sessions.token_hash, sessions.method, sessions.address,
	sessions.created_at, sessions.last_seen_at, sessions.expires_at`

func scanSession(s scanner) (store.SessionRow, error) {
	var r store.SessionRow
	var created, seen, expires int64
	if err := s.Scan(&r.ID, &r.UserID, &r.TokenHash, &r.Method, &r.Address, &created, &seen, &expires); err != nil {
		return r, err
	}
	r.CreatedAt, r.LastSeenAt, r.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return r, nil
}

// InsertSession stores a new session and returns its id.
func (t *Tx) InsertSession(ctx context.Context, s store.SessionRow) (int64, error) {
	res, err := t.exec(ctx, `INSERT INTO sessions (user_id, token_hash, method, address, created_at, last_seen_at, expires_at)
		VALUES (`+orgUser+`, ?, ?, ?, ?, ?, ?)`, s.UserID, t.org, s.TokenHash, s.Method, s.Address,
		micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt))
	if err != nil {
		return 0, fmt.Errorf("insert session: %w", err)
	}
	return res.LastInsertId()
}

// SessionUser finds a session by its token's hash with its user, in one
// statement, as TokenUser does for tokens.
func (t *Tx) SessionUser(ctx context.Context, hash []byte) (store.SessionRow, store.UserRow, bool, error) {
	row := t.queryRow(ctx, `SELECT `+sessionColumns+`, `+userColumns+` FROM sessions
		JOIN users ON users.id = sessions.user_id WHERE sessions.token_hash = ?`, hash)
	s, u, err := scanWithUser(row, scanSession)
	if errors.Is(err, sql.ErrNoRows) {
		return s, u, false, nil
	}
	return s, u, err == nil, err
}

// TouchSession records activity on a session at now, if the last
// recorded is at or before stale.
func (t *Tx) TouchSession(ctx context.Context, id int64, now, stale time.Time) error {
	_, err := t.exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at <= ? AND `+inOrg("sessions.user_id"),
		micros(now), id, micros(stale), t.org)
	return err
}

// EndSessionsExcept deletes a user's sessions but keep, and returns how
// many it deleted.
func (t *Tx) EndSessionsExcept(ctx context.Context, userID, keep int64) (int, error) {
	res, err := t.exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ? AND `+inOrg("sessions.user_id"), userID, keep, t.org)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// EndSessions deletes a user's sessions, or only the one with id when
// id != 0, and returns how many it deleted.
func (t *Tx) EndSessions(ctx context.Context, userID, id int64) (int, error) {
	q := `DELETE FROM sessions WHERE user_id = ? AND ` + inOrg("sessions.user_id")
	args := []any{userID, t.org}
	if id != 0 {
		q += ` AND id = ?`
		args = append(args, id)
	}
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// NoticesSeen returns the id of the newest audit event a user has seen as
// a notice, or 0 when they never looked.
func (t *Tx) NoticesSeen(ctx context.Context, userID int64) (int64, error) {
	var id int64
	err := t.queryRow(ctx, `SELECT audit_id FROM notices_seen WHERE user_id = ? AND `+inOrg("notices_seen.user_id"), userID, t.org).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// SetNoticesSeen records that a user has seen notices up to an event.
func (t *Tx) SetNoticesSeen(ctx context.Context, userID, auditID int64) error {
	// Not orgUser: user_id is the table's rowid, and a NULL there would
	// be given the next one.
	_, err := t.exec(ctx, `INSERT INTO notices_seen (user_id, audit_id) SELECT id, ? FROM users WHERE id = ? AND org_id = ?
		ON CONFLICT (user_id) DO UPDATE SET audit_id = excluded.audit_id`, auditID, userID, t.org)
	return err
}
