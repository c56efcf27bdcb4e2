package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// sameAsEncoder fails unless encode writes v exactly as json.Encoder does,
// or both fail.
func sameAsEncoder(t *testing.T, v any) {
	t.Helper()
	var want, got bytes.Buffer
	wantErr := json.NewEncoder(&want).Encode(v)
	gotErr := encode(&got, v)
	if (wantErr != nil) != (gotErr != nil) {
		t.Fatalf("encoding/json error %v, ours %v", wantErr, gotErr)
	}
	if wantErr == nil && !bytes.Equal(want.Bytes(), got.Bytes()) {
		t.Fatalf("encoding/json wrote\n%s\nours\n%s", want.Bytes(), got.Bytes())
	}
}

// fullUser has every field set, so that a field added to roster.User and
// not to appendUser fails the comparison.
func fullUser() roster.User {
	login := time.Date(2026, 11, 30, 9, 15, 7, 123456000, time.UTC)
	gone := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ends := time.Date(2027, 3, 31, 23, 59, 59, 500, time.UTC)
	return roster.User{ID: 42, Kind: roster.KindPerson, Email: "ann@example.com", Username: "ann", Name: "Ann Lee",
		Roles: []string{"admin", "member"}, Status: roster.StatusDeactivated, MustChangePassword: true,
		HasPassword: true, Links: map[string]string{"okta": "ann@corp", "github": "annlee"},
		Projects: []string{"apollo", "zeus"}, CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		UpdatedAt: time.Date(2026, 6, 7, 8, 9, 10, 999999999, time.UTC), LastLoginAt: &login,
		LastLoginMethod: "password", DeactivatedAt: &gone, ExpiresAt: &ends}
}

func TestUserJSON(t *testing.T) {
	full := fullUser()
	rv := reflect.ValueOf(full)
	for i := range rv.NumField() {
		if rv.Field(i).IsZero() {
			t.Fatalf("fullUser leaves %s unset", rv.Type().Field(i).Name)
		}
	}
	odd := time.FixedZone("LMT", 17*60+30)                                    // seconds RFC 3339 cannot write
	east, west := time.FixedZone("E", 24*3600), time.FixedZone("W", -24*3600) // hours it cannot
	cet := time.FixedZone("CET", 3600)
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]func(*roster.User){
		"full":  func(*roster.User) {},
		"zero":  func(u *roster.User) { *u = roster.User{} },
		"empty": func(u *roster.User) { u.Roles, u.Projects, u.Links = []string{}, []string{}, map[string]string{} },
		"escapes": func(u *roster.User) {
			u.Name = "quote \" backslash \\ <b>&amp; \x00\x01\b\f\n\r\t\x1f\x7f é ✓ \u2028\u2029 \xff\xfe end"
			u.Links = map[string]string{"<k>": "\"v\"", "é": "\u2028"}
			u.Roles = []string{"a&b", "\t"}
		},
		"nil times":      func(u *roster.User) { u.LastLoginAt, u.DeactivatedAt = nil, nil },
		"zone":           func(u *roster.User) { u.CreatedAt = u.CreatedAt.In(cet) },
		"odd zone":       func(u *roster.User) { u.CreatedAt = u.CreatedAt.In(odd) },
		"zone +24h":      func(u *roster.User) { u.CreatedAt = u.CreatedAt.In(east) },
		"zone -24h":      func(u *roster.User) { u.CreatedAt = u.CreatedAt.In(west) },
		"year -1":        func(u *roster.User) { u.UpdatedAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year 10000":     func(u *roster.User) { u.DeactivatedAt = &far },
		"negative id":    func(u *roster.User) { u.ID = -1 },
		"monotonic time": func(u *roster.User) { u.UpdatedAt = time.Now() },
	}
	// Each character encoding/json escapes or replaces, alone in a name.
	for _, c := range []string{"\"", "\\", "<", ">", "&", "\x00", "\b", "\f", "\n", "\r", "\t", "\x1f", "\x7f",
		"é", "\u2028", "\u2029", "\xff", "\xe2\x80", "\U0001F600"} {
		cases["alone "+strconv.Quote(c)] = func(u *roster.User) { u.Name = "a" + c + "b" }
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			u := fullUser()
			change(&u)
			sameAsEncoder(t, u)
			sameAsEncoder(t, wire.Page[roster.User]{Items: []roster.User{u, fullUser()}, Next: "b<&>"})
		})
	}
	sameAsEncoder(t, wire.Page[roster.User]{})
	sameAsEncoder(t, wire.Page[roster.User]{Items: []roster.User{}})
}

func FuzzUserJSON(f *testing.F) {
	f.Add(int64(1), "ann@example.com", "Ann <Lee>", "github", "ann\u2028", int64(0), "next")
	f.Add(int64(-7), "\xff", "\x00", "", "\"", int64(-62135596800), "")
	f.Fuzz(func(t *testing.T, id int64, email, name, kind, value string, unix int64, next string) {
		u := fullUser()
		u.ID, u.Email, u.Name, u.Username = id, email, name, value
		u.Links = map[string]string{kind: value, value: kind}
		u.Roles = []string{name, kind}
		when := time.Unix(unix, unix%1e9).UTC()
		u.CreatedAt, u.LastLoginAt = when, &when
		sameAsEncoder(t, u)
		sameAsEncoder(t, wire.Page[roster.User]{Items: []roster.User{u}, Next: next})
	})
}
