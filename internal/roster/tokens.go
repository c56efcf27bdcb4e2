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
	// LastUsedFrom is the client address of the last recorded use ("" if
	// none, or if the use came with no address, as in local mode).
	LastUsedFrom string `json:"last_used_from"`
	// Scope, when not nil, is all the token may use of its user's
	// current permissions (implications applied).
	Scope   []string `json:"scope"`
	Revoked bool     `json:"revoked"`
	Token   string   `json:"token,omitempty"`
}

// CreateToken makes a token for User ("" means the actor). It ends TTL
// from now, or at ExpiresAt; with neither, after the default of 90 days
// (or the organisation's tokens.max_ttl, when shorter). Scope, when not
// nil, limits it to those of its user's permissions.
type CreateToken struct {
	User      string
	Name      string
	TTL       time.Duration
	ExpiresAt *time.Time
	Scope     []string
}

// RotateToken gives token ID a new secret. It ends TTL from now, or at
// ExpiresAt; with neither, it keeps the lifetime it had.
type RotateToken struct {
	ID        int64
	TTL       time.Duration
	ExpiresAt *time.Time
}

// TokenFilter selects the tokens of ListTokens: User's ("" is the
// actor's; every one's for the local administrator), and with Expiring,
// only the live ones that end within that long.
type TokenFilter struct {
	User     string
	Expiring time.Duration
}

// TokenResult is a token after a change.
type TokenResult struct {
	Token   APIToken `json:"token"`
	Changed bool     `json:"changed"`
}

// Token lifetimes. DefaultTokenMaxTTL is tokens.max_ttl's default.
const (
	DefaultTokenTTL    = 90 * 24 * time.Hour
	DefaultTokenMaxTTL = 365 * 24 * time.Hour
	MaxTokenTTL        = 3650 * 24 * time.Hour
)
