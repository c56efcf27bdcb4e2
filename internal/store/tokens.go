package store

import (
	"database/sql"
	"strings"
)

// ScopeText is how a token's scope is stored: its permissions separated
// by spaces, or NULL for a token that may use all of its user's.
func ScopeText(scope []string) sql.NullString {
	if scope == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: strings.Join(scope, " "), Valid: true}
}

// ScopeOf reads a stored scope back: nil for none.
func ScopeOf(s sql.NullString) []string {
	if !s.Valid {
		return nil
	}
	return append([]string{}, strings.Fields(s.String)...)
}
