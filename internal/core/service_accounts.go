package core

import (
	"strconv"
	"strings"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// Service accounts (DESIGN.md, "Service accounts, scoped and expiring
// access") are users of kind service: a name (their username) instead of
// an email, no password, no pages and no sign-in links. They act only
// through tokens, hold roles as people do (R4, R14), and take no seat.

// accountOf reads what kind of account a create makes, its email (a
// person's) and its handle: the email, or a service account's name.
func accountOf(p roster.CreateUser) (kind roster.Kind, email, handle string, err error) {
	switch p.Kind {
	case "", roster.KindPerson:
		email, err = roster.NormalizeEmail(p.Email)
		return roster.KindPerson, email, email, err
	case roster.KindService:
	default:
		return "", "", "", roster.Errorf(roster.ErrInvalid, "unknown kind of account %q", p.Kind).WithHint("use person or service")
	}
	switch {
	case p.Username == "":
		return "", "", "", roster.Errorf(roster.ErrInvalid, "a service account needs a name").
			WithHint("give one such as ci-deploy: letters, digits, '.', '_' or '-', starting with a letter")
	case p.Email != "":
		return "", "", "", roster.Errorf(roster.ErrInvalid, "a service account has a name, not an email").
			WithHint("leave the email out; people are made with roster user create")
	case p.Password != "" || p.RandomPassword || p.MustChangePassword:
		return "", "", "", noPassword(p.Username)
	}
	if err := roster.ValidateUsername(p.Username); err != nil {
		return "", "", "", err
	}
	if err := serviceLinks(p.Username, p.Links); err != nil {
		return "", "", "", err
	}
	return roster.KindService, "", p.Username, nil
}

// noPassword refuses a password for the service account name.
func noPassword(name string) error {
	return roster.Errorf(roster.ErrConflict, "%s is a service account: it has no password, and acts only through tokens", name).
		WithHint("make it a token with roster token create --user %s", name)
}

// notPerson refuses what only a person has (pages, links, sign-in) to the
// service account u; for a person it is nil.
func notPerson(u roster.User, what string) error {
	if !u.Service() {
		return nil
	}
	return roster.Errorf(roster.ErrConflict, "%s is a service account: it has no %s, and acts only through tokens", u.Username, what).
		WithHint("make it a token with roster token create --user %s", u.Username)
}

// serviceLinks refuses a provider's link to a service account, which
// signs in nowhere.
func serviceLinks(name string, links map[string]string) error {
	for k := range links {
		if strings.HasPrefix(k, roster.ProviderLinkPrefix) {
			return roster.Errorf(roster.ErrInvalid, "%s is a service account: it cannot sign in with %s", name, k).
				WithHint("service accounts act only through tokens")
		}
	}
	return nil
}

// taken finds the account a create of kind would clash with: the person
// of that email, or whoever holds the name as a username. ok is false
// when there is none.
func (o *op) taken(kind roster.Kind, handle string) (row store.UserRow, ok bool, err error) {
	var id int64
	if kind == roster.KindService {
		id, err = o.tx.UsernameTaken(o.ctx, handle)
	} else {
		id, err = o.tx.EmailTaken(o.ctx, handle)
	}
	if err != nil || id == 0 {
		return row, false, err
	}
	row, err = o.tx.UserByRef(o.ctx, strconv.FormatInt(id, 10))
	if err == nil && store.KindOf(row.User) != kind {
		err = roster.Errorf(roster.ErrConflict, "%s is the username of a person", handle).
			WithHint("give the service account another name")
	}
	return row, err == nil, err
}

// exists is the error of a create whose account exists.
func exists(kind roster.Kind, handle string) error {
	if kind == roster.KindService {
		return roster.Errorf(roster.ErrConflict, "service account %s already exists", handle).
			WithHint("names are unique in any letter case; use --if-not-exists to accept an existing one")
	}
	return roster.Errorf(roster.ErrConflict, "user %s already exists", handle).
		WithHint("emails are unique in any letter case; use --if-not-exists to accept an existing user")
}

// checkServiceUpdate refuses the edits a service account cannot take: an
// email, losing its name, a provider's link.
func (o *op) checkServiceUpdate(u store.UserRow, p roster.UpdateUser) error {
	switch {
	case !u.Service():
		return nil
	case p.Email != nil:
		return notPerson(u.User, "email")
	case p.Username != nil && *p.Username == "":
		return roster.Errorf(roster.ErrInvalid, "a service account's username is its name, and cannot be removed").
			WithHint("rename it with --username NEW")
	}
	return serviceLinks(u.Username, p.Links)
}
