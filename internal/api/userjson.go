package api

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// Users are the API's most frequent answer, one or fifty at a time, and
// encoding them by reflection took a tenth of the CPU of a page of 50: the
// four timestamps alone, each a json.Marshaler whose output encoding/json
// then checks and compacts, took half of that. appendUser writes a user
// directly, byte for byte what encoding/json writes (TestUserJSON holds it
// to that for every field); strings that need escaping, which are rare,
// are still escaped by encoding/json.

// appendUsers appends a page of users as encoding/json's Encoder writes it.
func appendUsers(b []byte, p wire.Page[roster.User]) ([]byte, error) {
	b = append(b, `{"items":`...)
	if p.Items == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, u := range p.Items {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendUser(b, u); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"next":`...)
	b = appendString(b, p.Next)
	return append(b, '}'), nil
}

// appendUser appends u as encoding/json writes a roster.User.
func appendUser(b []byte, u roster.User) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, u.ID, 10)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(u.Kind))
	b = append(b, `,"email":`...)
	b = appendString(b, u.Email)
	b = append(b, `,"username":`...)
	b = appendString(b, u.Username)
	b = append(b, `,"name":`...)
	b = appendString(b, u.Name)
	b = append(b, `,"roles":`...)
	b = appendStrings(b, u.Roles)
	b = append(b, `,"status":`...)
	b = appendString(b, string(u.Status))
	b = append(b, `,"must_change_password":`...)
	b = strconv.AppendBool(b, u.MustChangePassword)
	b = append(b, `,"has_password":`...)
	b = strconv.AppendBool(b, u.HasPassword)
	b = append(b, `,"links":`...)
	b = appendLinks(b, u.Links)
	b = append(b, `,"projects":`...)
	b = appendStrings(b, u.Projects)
	var err error
	b = append(b, `,"created_at":`...)
	if b, err = appendTime(b, &u.CreatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = appendTime(b, &u.UpdatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"last_login_at":`...)
	if b, err = appendTime(b, u.LastLoginAt); err != nil {
		return b, err
	}
	b = append(b, `,"last_login_method":`...)
	b = appendString(b, u.LastLoginMethod)
	b = append(b, `,"deactivated_at":`...)
	if b, err = appendTime(b, u.DeactivatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"expires_at":`...)
	if b, err = appendTime(b, u.ExpiresAt); err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

// appendString appends s quoted. Printable ASCII other than the quote,
// the backslash and the three characters encoding/json escapes for HTML
// (< > &) goes as it is; anything else is left to encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendStrings(b []byte, l []string) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendLinks writes the object with its keys sorted, as encoding/json
// writes a map.
func appendLinks(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

// appendTime writes t as time.Time's MarshalJSON does: RFC 3339 with
// nanoseconds, or null for a nil pointer. A year outside 0-9999, or a zone
// offset of a day or more, which RFC 3339 cannot write, goes to
// MarshalJSON for its error.
func appendTime(b []byte, t *time.Time) ([]byte, error) {
	if t == nil {
		return append(b, "null"...), nil
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 || t.Year() < 0 || t.Year() > 9999 {
		q, err := t.MarshalJSON()
		return append(b, q...), err
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}
