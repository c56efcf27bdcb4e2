package roster

import "time"

// DeviceError is an answer to a device token request other than a token,
// as RFC 8628 (section 3.5) names it.
type DeviceError string

func (e DeviceError) Error() string { return string(e) }

// The answers of RFC 8628 to a poll for a token.
const (
	DevicePending      DeviceError = "authorization_pending" // not yet approved: poll again
	DeviceSlowDown     DeviceError = "slow_down"             // polled too soon: wait longer
	DeviceAccessDenied DeviceError = "access_denied"         // denied
	DeviceExpired      DeviceError = "expired_token"         // the code expired: start again
	DeviceInvalidGrant DeviceError = "invalid_grant"         // unknown, or used already
)

// DeviceRequest is what roster login --web asks the server for: a token
// named TokenName living TokenTTL (0 the default), for the machine Host.
type DeviceRequest struct {
	TokenName string
	TokenTTL  time.Duration
	Host      string
}

// DeviceGrant answers a device authorization request (RFC 8628, section
// 3.2): the machine keeps DeviceCode and polls with it every Interval;
// a person opens VerificationURI and enters UserCode.
type DeviceGrant struct {
	DeviceCode              string        `json:"device_code"`
	UserCode                string        `json:"user_code"`
	VerificationURI         string        `json:"verification_uri"`
	VerificationURIComplete string        `json:"verification_uri_complete"`
	ExpiresIn               time.Duration `json:"-"`
	Interval                time.Duration `json:"-"`
}

// DeviceInfo is what the person asked to approve a request sees.
type DeviceInfo struct {
	UserCode  string
	TokenName string
	TokenTTL  time.Duration
	Host      string
	ExpiresAt time.Time
}
