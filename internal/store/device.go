package store

import (
	"context"
	"time"
)

// DeviceStatus is where a device authorization request stands.
type DeviceStatus string

// The device authorization statuses.
const (
	DevicePending  DeviceStatus = "pending"
	DeviceApproved DeviceStatus = "approved"
	DeviceDenied   DeviceStatus = "denied"
	DeviceUsed     DeviceStatus = "used" // approved, and its token handed out
)

// DeviceCode is a device authorization request (RFC 8628), as roster
// login --web makes: a machine asks for a token, a person signed in on
// the pages approves or denies it. Only the SHA-256 of the device code
// is stored; the user code is short and shown to people.
type DeviceCode struct {
	ID, OrgID  int64
	DeviceHash []byte
	UserCode   string
	TokenName  string
	TokenTTL   time.Duration
	// Host is who asked: the host name the machine gave and the address
	// its request came from.
	Host   string
	Status DeviceStatus
	// UserID is who approved or denied it; 0 while pending.
	UserID     int64
	Interval   time.Duration // how often the machine may poll
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastPollAt *time.Time
}

// DeviceCodes are the queries of device authorization.
type DeviceCodes interface {
	// InsertDeviceCode stores a request in the transaction's
	// organisation and returns its id.
	InsertDeviceCode(ctx context.Context, d DeviceCode) (int64, error)
	// DeviceCodeByHash finds a request by its device code's hash, in any
	// organisation (the row says which); found is false when none.
	DeviceCodeByHash(ctx context.Context, hash []byte) (DeviceCode, bool, error)
	// DeviceCodeByUserCode finds the newest request with userCode in the
	// transaction's organisation.
	DeviceCodeByUserCode(ctx context.Context, userCode string) (DeviceCode, bool, error)
	// PollDeviceCode records a poll at now and the interval the machine
	// must keep from now on.
	PollDeviceCode(ctx context.Context, id int64, now time.Time, interval time.Duration) error
	// DecideDeviceCode approves or denies a request, by userID, if and
	// only if it is still pending and live at now: one conditional
	// UPDATE, so two decisions cannot both win.
	DecideDeviceCode(ctx context.Context, id, userID int64, status DeviceStatus, now time.Time) (bool, error)
	// UseDeviceCode marks an approved request used, if and only if it is
	// approved: its token is handed out once.
	UseDeviceCode(ctx context.Context, id int64) (bool, error)
}
