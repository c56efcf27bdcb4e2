package roster

import "time"

// APIToken is a bearer credential acting with its user's current
// permissions. Token is set only when made or rotated: shown once.
type APIToken struct {
	ID         int64      `json:"id"`
	User       string     `json:"user"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Revoked    bool       `json:"revoked"`
	Token      string     `json:"token,omitempty"`
}

// CreateToken makes a token for User ("" means the actor). TTL 0 means
// the default of 90 days.
type CreateToken struct {
	User string
	Name string
	TTL  time.Duration
}

// TokenResult is a token after a change.
type TokenResult struct {
	Token   APIToken `json:"token"`
	Changed bool     `json:"changed"`
}

// Token lifetimes.
const (
	DefaultTokenTTL = 90 * 24 * time.Hour
	MaxTokenTTL     = 3650 * 24 * time.Hour
)
