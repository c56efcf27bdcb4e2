package cli

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
)

func formatTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func joinLinks(links map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(links)) {
		parts = append(parts, k+"="+links[k])
	}
	return strings.Join(parts, ",")
}

var userHeader = []string{"ID", "EMAIL", "USERNAME", "NAME", "ROLES", "STATUS", "PASSWORD", "LINKS", "CREATED", "EXPIRES"}

func userRow(r *output.Rows, u roster.User) {
	pw := "no"
	if u.HasPassword {
		pw = "yes"
	}
	if u.MustChangePassword {
		pw += " (must change)"
	}
	r.Add(u.Handle(), strconv.FormatInt(u.ID, 10), u.Email, u.Username, u.Name, strings.Join(u.Roles, ","),
		string(u.Status), pw, joinLinks(u.Links), formatTime(&u.CreatedAt), formatTime(u.ExpiresAt))
}

func userRows(users []roster.User) output.Rows {
	r := output.Rows{Header: userHeader}
	for _, u := range users {
		userRow(&r, u)
	}
	return r
}

var roleHeader = []string{"NAME", "BUILTIN", "HOLDERS", "PERMISSIONS", "DESCRIPTION"}

func roleRows(roles []roster.Role) output.Rows {
	r := output.Rows{Header: roleHeader}
	for _, x := range roles {
		r.Add(x.Name, x.Name, strconv.FormatBool(x.Builtin), strconv.Itoa(x.Holders), strings.Join(x.Permissions, ","), x.Description)
	}
	return r
}

var permissionHeader = []string{"NAME", "BUILTIN", "IMPLIES", "DESCRIPTION"}

func permissionRows(perms []roster.Permission) output.Rows {
	r := output.Rows{Header: permissionHeader}
	for _, p := range perms {
		r.Add(p.Name, p.Name, strconv.FormatBool(p.Builtin), strings.Join(p.Implies, ","), p.Description)
	}
	return r
}

var auditHeader = []string{"ID", "AT", "ACTOR", "VIA", "ACTION", "TARGET", "DETAILS"}

func auditRows(events []roster.AuditEvent) output.Rows {
	r := output.Rows{Header: auditHeader}
	for _, e := range events {
		id := strconv.FormatInt(e.ID, 10)
		r.Add(id, id, formatTime(&e.At), e.Actor, e.Via, e.Action, e.Target, detailsText(e.Details))
	}
	return r
}

// detailsText renders audit details as k=v pairs, sorted by key.
func detailsText(d map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(d)) {
		parts = append(parts, k+"="+valueText(d[k]))
	}
	return strings.Join(parts, " ")
}

func valueText(v any) string {
	switch x := v.(type) {
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = valueText(e)
		}
		return "[" + strings.Join(s, ",") + "]"
	case map[string]any:
		if from, ok := x["from"]; ok {
			return valueText(from) + "->" + valueText(x["to"])
		}
		return "{" + detailsText(x) + "}"
	case string:
		return x
	case nil:
		return ""
	default:
		b, _ := jsonText(x)
		return b
	}
}

// userChange is the JSON of a user after a change: the user's fields,
// whether anything changed, and a generated password, once.
type userChange struct {
	roster.User
	Changed  bool     `json:"changed"`
	Password string   `json:"password,omitempty"`
	Differs  []string `json:"differs,omitempty"`
}
