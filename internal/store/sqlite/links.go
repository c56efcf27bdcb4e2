package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/roster-dev/roster/internal/store"
)

// InsertLink stores a link.
func (t *Tx) InsertLink(ctx context.Context, l store.Link) (int64, error) {
	roles, err := json.Marshal(l.Roles)
	if err != nil {
		return 0, err
	}
	var createdBy any
	if l.CreatedBy != 0 {
		createdBy = l.CreatedBy
	}
	res, err := t.exec(ctx, `INSERT INTO links (kind, user_id, token_hash, created_by, creator, roles, created_at, expires_at)
		VALUES (?, `+orgUser+`, ?, ?, ?, ?, ?, ?)`, l.Kind, l.UserID, t.org, l.TokenHash, createdBy, l.Creator, string(roles), micros(l.CreatedAt), micros(l.ExpiresAt))
	if err != nil {
		return 0, fmt.Errorf("insert %s link: %w", l.Kind, err)
	}
	return res.LastInsertId()
}

// A link's roles are read as its user's current roles: those are what
// accepting grants, whatever they were when the link was made.
const linkColumns = `links.id, links.kind, links.user_id, users.email, users.name, links.token_hash, COALESCE(links.created_by, 0),
	links.creator, (SELECT json_group_array(role) FROM (SELECT role FROM user_roles WHERE user_id = links.user_id ORDER BY role)),
	links.created_at, links.expires_at, links.used_at, links.revoked_at, links.revoke_reason,
	links.sent_at, users.org_id`

func scanLink(s scanner) (store.Link, error) {
	var l store.Link
	var roles string
	var created, expires int64
	var used, revoked, sent sql.NullInt64
	err := s.Scan(&l.ID, &l.Kind, &l.UserID, &l.Email, &l.Name, &l.TokenHash, &l.CreatedBy, &l.Creator, &roles,
		&created, &expires, &used, &revoked, &l.Reason, &sent, &l.OrgID)
	if err != nil {
		return l, err
	}
	l.CreatedAt, l.ExpiresAt = fromMicros(created), fromMicros(expires)
	l.UsedAt, l.RevokedAt, l.SentAt = timePtr(used), timePtr(revoked), timePtr(sent)
	if err := json.Unmarshal([]byte(roles), &l.Roles); err != nil {
		return l, fmt.Errorf("link %d roles: %w", l.ID, err)
	}
	return l, nil
}

// LinkByHash finds a link by its token's hash; found is false when none.
func (t *Tx) LinkByHash(ctx context.Context, kind store.LinkKind, hash []byte) (store.Link, bool, error) {
	l, err := scanLink(t.queryRow(ctx, `SELECT `+linkColumns+` FROM links JOIN users ON users.id = links.user_id
		WHERE links.token_hash = ? AND links.kind = ?`, hash, kind))
	if errors.Is(err, sql.ErrNoRows) {
		return l, false, nil
	}
	return l, err == nil, err
}

// CountLinksSince counts a user's links of a kind made at or after since.
func (t *Tx) CountLinksSince(ctx context.Context, userID int64, kind store.LinkKind, since time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM links WHERE user_id = ? AND kind = ? AND created_at >= ? AND `+inOrg("links.user_id"),
		userID, kind, micros(since), t.org).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count links: %w", err)
	}
	return n, nil
}

// LatestLink returns a user's newest link of a kind.
func (t *Tx) LatestLink(ctx context.Context, userID int64, kind store.LinkKind) (store.Link, bool, error) {
	l, err := scanLink(t.queryRow(ctx, `SELECT `+linkColumns+` FROM links JOIN users ON users.id = links.user_id
		WHERE links.user_id = ? AND users.org_id = ? AND links.kind = ? ORDER BY links.id DESC LIMIT 1`, userID, t.org, kind))
	if errors.Is(err, sql.ErrNoRows) {
		return l, false, nil
	}
	return l, err == nil, err
}

// ConsumeLink marks a link used if, and only if, it is still live at now:
// the one conditional UPDATE that makes a link single-use under
// concurrency. It reports whether this call consumed it.
func (t *Tx) ConsumeLink(ctx context.Context, id int64, now time.Time) (bool, error) {
	res, err := t.exec(ctx, `UPDATE links SET used_at = ?
		WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ? AND `+inOrg("links.user_id"),
		micros(now), id, micros(now), t.org)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RevokeLinks revokes a user's live links of a kind ("" for every kind)
// and returns how many it revoked.
func (t *Tx) RevokeLinks(ctx context.Context, userID int64, kind store.LinkKind, now time.Time, reason string) (int, error) {
	q := `UPDATE links SET revoked_at = ?, revoke_reason = ?
		WHERE user_id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ? AND ` + inOrg("links.user_id")
	args := []any{micros(now), reason, userID, micros(now), t.org}
	if kind != "" {
		q += " AND kind = ?"
		args = append(args, kind)
	}
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("revoke links: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ListInvitations returns invitations, newest first.
func (t *Tx) ListInvitations(ctx context.Context) ([]store.Link, error) {
	out, err := collect(ctx, t, `SELECT `+linkColumns+` FROM links JOIN users ON users.id = links.user_id
		WHERE users.org_id = ? AND links.kind = 'invite' ORDER BY links.created_at DESC, links.id DESC`, []any{t.org}, scanLink)
	if err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	return out, nil
}

// MarkSent records that a link was mailed.
func (t *Tx) MarkSent(ctx context.Context, id int64, now time.Time) error {
	_, err := t.exec(ctx, `UPDATE links SET sent_at = ? WHERE id = ? AND `+inOrg("links.user_id"), micros(now), id, t.org)
	return err
}
