package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/roster-dev/roster/internal/store"
)

// schemaDeviceCodes holds device authorization requests (RFC 8628).
const schemaDeviceCodes = `
CREATE TABLE IF NOT EXISTS device_codes (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id        INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	device_hash   BLOB NOT NULL UNIQUE,
	user_code     TEXT NOT NULL,
	token_name    TEXT NOT NULL,
	token_ttl     INTEGER NOT NULL,
	host          TEXT NOT NULL DEFAULT '',
	status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'used')),
	user_id       INTEGER REFERENCES users (id) ON DELETE CASCADE,
	poll_interval INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	last_poll_at  INTEGER
);
CREATE INDEX IF NOT EXISTS device_codes_user_code ON device_codes (org_id, user_code);
`

const deviceColumns = `id, org_id, device_hash, user_code, token_name, token_ttl, host, status, COALESCE(user_id, 0),
	poll_interval, created_at, expires_at, last_poll_at`

func scanDevice(s scanner) (store.DeviceCode, bool, error) {
	var d store.DeviceCode
	var ttl, interval, created, expires int64
	var polled sql.NullInt64
	err := s.Scan(&d.ID, &d.OrgID, &d.DeviceHash, &d.UserCode, &d.TokenName, &ttl, &d.Host, &d.Status, &d.UserID,
		&interval, &created, &expires, &polled)
	if errors.Is(err, sql.ErrNoRows) {
		return d, false, nil
	}
	if err != nil {
		return d, false, fmt.Errorf("read device code: %w", err)
	}
	d.TokenTTL, d.Interval = time.Duration(ttl)*time.Second, time.Duration(interval)*time.Second
	d.CreatedAt, d.ExpiresAt = fromMicros(created), fromMicros(expires)
	if polled.Valid {
		at := fromMicros(polled.Int64)
		d.LastPollAt = &at
	}
	return d, true, nil
}

// InsertDeviceCode stores a request in the transaction's organisation.
func (t *Tx) InsertDeviceCode(ctx context.Context, d store.DeviceCode) (int64, error) {
	res, err := t.exec(ctx, `INSERT INTO device_codes (org_id, device_hash, user_code, token_name, token_ttl, host,
		poll_interval, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.org, d.DeviceHash, d.UserCode, d.TokenName, int64(d.TokenTTL/time.Second), d.Host,
		int64(d.Interval/time.Second), micros(d.CreatedAt), micros(d.ExpiresAt))
	if err != nil {
		return 0, fmt.Errorf("insert device code: %w", err)
	}
	return res.LastInsertId()
}

// DeviceCodeByHash finds a request by its device code's hash, in any
// organisation.
func (t *Tx) DeviceCodeByHash(ctx context.Context, hash []byte) (store.DeviceCode, bool, error) {
	return scanDevice(t.queryRow(ctx, `SELECT `+deviceColumns+` FROM device_codes WHERE device_hash = ?`, hash))
}

// DeviceCodeByUserCode finds the newest request with userCode in the
// transaction's organisation.
func (t *Tx) DeviceCodeByUserCode(ctx context.Context, userCode string) (store.DeviceCode, bool, error) {
	return scanDevice(t.queryRow(ctx, `SELECT `+deviceColumns+` FROM device_codes WHERE org_id = ? AND user_code = ?
		ORDER BY id DESC LIMIT 1`, t.org, userCode))
}

// PollDeviceCode records a poll.
func (t *Tx) PollDeviceCode(ctx context.Context, id int64, now time.Time, interval time.Duration) error {
	_, err := t.exec(ctx, `UPDATE device_codes SET last_poll_at = ?, poll_interval = ? WHERE id = ? AND org_id = ?`,
		micros(now), int64(interval/time.Second), id, t.org)
	return err
}

// DecideDeviceCode approves or denies a pending, live request.
func (t *Tx) DecideDeviceCode(ctx context.Context, id, userID int64, status store.DeviceStatus, now time.Time) (bool, error) {
	res, err := t.exec(ctx, `UPDATE device_codes SET status = ?, user_id = ? WHERE id = ? AND org_id = ?
		AND status = 'pending' AND expires_at > ?`, status, userID, id, t.org, micros(now))
	if err != nil {
		return false, fmt.Errorf("decide device code: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UseDeviceCode marks an approved request used.
func (t *Tx) UseDeviceCode(ctx context.Context, id int64) (bool, error) {
	res, err := t.exec(ctx, `UPDATE device_codes SET status = 'used' WHERE id = ? AND org_id = ? AND status = 'approved'`, id, t.org)
	if err != nil {
		return false, fmt.Errorf("use device code: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
