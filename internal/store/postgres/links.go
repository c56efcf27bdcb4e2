package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/store"
)

// InsertLink stores a link.
func (t *Tx) InsertLink(ctx context.Context, l store.Link) (int64, error) {
	roles := l.Roles
	if roles == nil {
		roles = []string{} // '[]', not 'null', as on SQLite
	}
	var id int64
	err := t.queryRow(ctx, `INSERT INTO links (kind, user_id, token_hash, created_by, creator, roles, created_at, expires_at)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE `+userOf("$2::bigint", "$9")+` RETURNING id`,
		l.Kind, l.UserID, l.TokenHash, nullID(l.CreatedBy), l.Creator, roles, l.CreatedAt, l.ExpiresAt, t.org).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, userIDNotFound(l.UserID)
	}
	if err != nil {
		return 0, fmt.Errorf("insert %s link: %w", l.Kind, err)
	}
	return id, nil
}

// A link's roles are read as its user's current roles: those are what
// accepting grants, whatever they were when the link was made.
const linkColumns = `links.id, links.kind, links.user_id, users.email, users.name, links.token_hash, COALESCE(links.created_by, 0),
	links.creator, ARRAY(SELECT role FROM user_roles WHERE user_id = links.user_id ORDER BY role),
	links.created_at, links.expires_at, links.used_at, links.revoked_at, links.revoke_reason,
	links.sent_at, users.org_id`

func scanLink(s pgx.Row) (store.Link, error) {
	var l store.Link
	err := s.Scan(&l.ID, &l.Kind, &l.UserID, &l.Email, &l.Name, &l.TokenHash, &l.CreatedBy, &l.Creator, &l.Roles,
		&l.CreatedAt, &l.ExpiresAt, &l.UsedAt, &l.RevokedAt, &l.Reason, &l.SentAt, &l.OrgID)
	if err != nil {
		return l, err
	}
	if l.Roles == nil {
		l.Roles = []string{}
	}
	l.CreatedAt, l.ExpiresAt = l.CreatedAt.UTC(), l.ExpiresAt.UTC()
	l.UsedAt, l.RevokedAt, l.SentAt = utcPtr(l.UsedAt), utcPtr(l.RevokedAt), utcPtr(l.SentAt)
	return l, nil
}

// LinkByHash finds a link by its token's hash, in whatever organisation:
// the link says which (OrgID). found is false when none.
func (t *Tx) LinkByHash(ctx context.Context, kind store.LinkKind, hash []byte) (store.Link, bool, error) {
	l, err := scanLink(t.queryRow(ctx, `SELECT `+linkColumns+` FROM links JOIN users ON users.id = links.user_id
		WHERE links.token_hash = $1 AND links.kind = $2`, hash, kind))
	ok, err := found(err)
	return l, ok, err
}

// CountLinksSince counts a user's links of a kind made at or after since.
func (t *Tx) CountLinksSince(ctx context.Context, userID int64, kind store.LinkKind, since time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM links WHERE user_id = $1 AND kind = $2 AND created_at >= $3
		AND `+userOf("user_id", "$4"), userID, kind, since, t.org).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count links: %w", err)
	}
	return n, nil
}

// LatestLink returns a user's newest link of a kind.
func (t *Tx) LatestLink(ctx context.Context, userID int64, kind store.LinkKind) (store.Link, bool, error) {
	l, err := scanLink(t.queryRow(ctx, `SELECT `+linkColumns+` FROM links JOIN users ON users.id = links.user_id
		WHERE links.user_id = $1 AND links.kind = $2 AND users.org_id = $3 ORDER BY links.id DESC LIMIT 1`, userID, kind, t.org))
	ok, err := found(err)
	return l, ok, err
}

// ConsumeLink marks a link used if, and only if, it is still live at now:
// the one conditional UPDATE that makes a link single-use under
// concurrency. It reports whether this call consumed it. Even outside
// roster's lock, PostgreSQL re-checks the condition on the newest version
// of the row once a concurrent update of it commits.
func (t *Tx) ConsumeLink(ctx context.Context, id int64, now time.Time) (bool, error) {
	tag, err := t.exec(ctx, `UPDATE links SET used_at = $1
		WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1 AND `+userOf("user_id", "$3"), now, id, t.org)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// RevokeLinks revokes a user's live links of a kind ("" for every kind)
// and returns how many it revoked.
func (t *Tx) RevokeLinks(ctx context.Context, userID int64, kind store.LinkKind, now time.Time, reason string) (int, error) {
	q := `UPDATE links SET revoked_at = $1, revoke_reason = $2
		WHERE user_id = $3 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1 AND ` + userOf("user_id", "$4")
	args := []any{now, reason, userID, t.org}
	if kind != "" {
		q += " AND kind = $5"
		args = append(args, kind)
	}
	tag, err := t.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("revoke links: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// ListInvitations returns invitations, newest first.
func (t *Tx) ListInvitations(ctx context.Context) ([]store.Link, error) {
	out, err := collect(ctx, t, `SELECT `+linkColumns+` FROM links JOIN users ON users.id = links.user_id
		WHERE links.kind = 'invite' AND users.org_id = $1 ORDER BY links.created_at DESC, links.id DESC`, []any{t.org}, scanLink)
	if err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	return out, nil
}

// MarkSent records that a link was mailed.
func (t *Tx) MarkSent(ctx context.Context, id int64, now time.Time) error {
	_, err := t.exec(ctx, `UPDATE links SET sent_at = $1 WHERE id = $2 AND `+userOf("user_id", "$3"), now, id, t.org)
	return err
}
