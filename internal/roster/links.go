package roster

import "time"

// InviteStatus is where an invitation stands.
type InviteStatus string

// The invitation statuses.
const (
	InvitePending  InviteStatus = "pending"
	InviteAccepted InviteStatus = "accepted"
	InviteExpired  InviteStatus = "expired"
	InviteRevoked  InviteStatus = "revoked"
)

// Valid reports whether s is a known invitation status.
func (s InviteStatus) Valid() bool {
	switch s {
	case InvitePending, InviteAccepted, InviteExpired, InviteRevoked:
		return true
	}
	return false
}

// Invitation is a single-use, expiring link that lets a person set their
// password and become active. URL and Token are set only when the
// invitation is made or resent: they are shown once and never stored.
type Invitation struct {
	Email      string       `json:"email"`
	Name       string       `json:"name"`
	Roles      []string     `json:"roles"`
	Status     InviteStatus `json:"status"`
	InvitedBy  string       `json:"invited_by"`
	CreatedAt  time.Time    `json:"created_at"`
	ExpiresAt  time.Time    `json:"expires_at"`
	AcceptedAt *time.Time   `json:"accepted_at"`
	URL        string       `json:"url,omitempty"`
	Token      string       `json:"token,omitempty"`
	// Sent is true when the link was mailed; MailError says why mailing
	// failed, in which case the invitation stands and the link still works.
	Sent      bool   `json:"sent"`
	MailError string `json:"mail_error,omitempty"`
	// Existing is set when a create with IfNotExists found the person
	// already invited or a user; there is no link to show then.
	Existing *Existing `json:"existing,omitempty"`
}

// ResetLink is a single-use, expiring link to set a new password.
type ResetLink struct {
	Email     string    `json:"email"`
	ExpiresAt time.Time `json:"expires_at"`
	URL       string    `json:"url,omitempty"`
	Token     string    `json:"token,omitempty"`
	Sent      bool      `json:"sent"`
	MailError string    `json:"mail_error,omitempty"`
}

// CreateInvitation invites one person. TTL 0 means the invite.ttl setting.
type CreateInvitation struct {
	Email    string
	Name     string
	Roles    []string
	Projects []string
	TTL      time.Duration
	Send     bool
	// IfNotExists accepts a person already invited or already a user.
	IfNotExists bool
}

// AcceptInvitation redeems an invitation token.
type AcceptInvitation struct {
	Token    string
	Name     string
	Username string
	Password string
}

// InvitationResult is an invitation after a change; Changed is false when
// there was nothing to do (R13).
type InvitationResult struct {
	Invitation Invitation `json:"invitation"`
	Changed    bool       `json:"changed"`
}
