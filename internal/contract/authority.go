package contract

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
)

var authorityCases = []struct {
	name string
	fn   func(*testing.T, Env)
}{
	{"R14 nobody acts on someone holding more: actor × target × action", testActOnMatrix},
	{"R15 everyone edits their own name and username, nothing else", testOwnProfile},
	{"R15 everyone sees notices of changes to their roles and projects", testNotices},
	{"R16 settings need settings.manage; host settings only on the host: key × role", testSettingsAuthority},
	{"R17 a must-change-password user may only change it", testMustChange},
	{"a user one may not see looks the same whether or not it exists", testInvisibleUsers},
	{"text with control or invisible characters is refused", testHiddenText},
	{"error messages quote 200 characters and never a token", testQuoting},
	{"setting no roles is refused", testNoRoles},
	{"R19 editing a role acts on its holders; a last role stays", testRoleHolders},
}

// personAction is one action on another person, as R14 lists them. setup
// puts the target where the action applies and returns what act needs;
// check, when set, looks at the target afterwards, whether the action was
// allowed or refused.
type personAction struct {
	name  string
	setup func(t *testing.T, e Env, target string) prepared
	act   func(s roster.Service, target string, p prepared) error
	check func(t *testing.T, e Env, name string, p prepared, allowed bool)
}

// prepared is what an action's setup made.
type prepared struct {
	token   int64  // a token of the target's, for the token actions
	session string // a browser session of the target's, for R18
}

// sessionPassword is the password of targets signed in with a browser.
const sessionPassword = "Session-Long-Passphrase"

// signedIn gives the target a password and a browser session.
func signedIn(t *testing.T, e Env, u string) prepared {
	must(e.Admin().SetPassword(ctx, u, roster.SetPassword{Password: sessionPassword}))(t)
	return prepared{session: e.StartSession(t, u, sessionPassword)}
}

// sessionStays checks R18's rule for an administrator's set-password: the
// target's browser sessions survive it unless it ends them, and survive
// any refusal.
func sessionStays(t *testing.T, e Env, name string, p prepared, allowed bool) {
	if !e.SessionLive(p.session) {
		t.Errorf("%s: the target's browser session ended; want it kept (R18)", name)
	}
}

// sessionEndsIfAllowed: an allowed set-password with RevokeSessions ends
// the target's browser sessions; a refused one leaves them.
func sessionEndsIfAllowed(t *testing.T, e Env, name string, p prepared, allowed bool) {
	switch live := e.SessionLive(p.session); {
	case allowed && live:
		t.Errorf("%s: the target's browser session lives on; want it ended (R18)", name)
	case !allowed && !live:
		t.Errorf("%s: refused, yet the target's browser session ended", name)
	}
}

func ptr(s string) *string { return &s }

// personActions are the actions of R14, tokens counted as three, a
// provider's binding (a link) as two and setting a password as two (with
// and without ending the target's browser sessions, R18), and setting an
// account's expiry, which ends access as deactivating does.
var personActions = []personAction{
	{"change roles", nil, func(s roster.Service, u string, _ prepared) error {
		_, err := s.UnassignRole(ctx, "tag", u)
		return err
	}, nil},
	{"change email", nil, func(s roster.Service, u string, _ prepared) error {
		_, err := s.UpdateUser(ctx, u, roster.UpdateUser{Email: ptr("new-" + u)})
		return err
	}, nil},
	{"change username", nil, func(s roster.Service, u string, _ prepared) error {
		_, err := s.UpdateUser(ctx, u, roster.UpdateUser{Username: ptr("u" + strings.ReplaceAll(strings.Split(u, "@")[0], ".", ""))})
		return err
	}, nil},
	{"change links", nil, func(s roster.Service, u string, _ prepared) error {
		_, err := s.UpdateUser(ctx, u, roster.UpdateUser{Links: map[string]string{"github": strings.Split(u, "@")[0]}})
		return err
	}, nil},
	// A binding to an identity provider's subject signs its holder in
	// as the user: whoever may set it may become them (R14).
	{"bind a provider's subject", nil, func(s roster.Service, u string, _ prepared) error {
		_, err := s.UpdateUser(ctx, u, roster.UpdateUser{Links: map[string]string{"oidc:google": "sub-" + strings.Split(u, "@")[0]}})
		return err
	}, nil},
	{"unbind a provider's subject", func(t *testing.T, e Env, u string) prepared {
		if _, err := e.Admin().UpdateUser(ctx, u, roster.UpdateUser{Links: map[string]string{"oidc:google": "bound-" + strings.Split(u, "@")[0]}}); err != nil {
			t.Fatal(err)
		}
		return prepared{}
	}, func(s roster.Service, u string, _ prepared) error {
		_, err := s.UpdateUser(ctx, u, roster.UpdateUser{Unlink: []string{"oidc:google"}})
		return err
	}, nil},
	{"set password", signedIn, func(s roster.Service, u string, _ prepared) error {
		_, err := s.SetPassword(ctx, u, roster.SetPassword{Password: "a-new-long-passphrase"})
		return err
	}, sessionStays},
	{"set password, ending sessions", signedIn, func(s roster.Service, u string, _ prepared) error {
		_, err := s.SetPassword(ctx, u, roster.SetPassword{Password: "a-new-long-passphrase", RevokeSessions: true})
		return err
	}, sessionEndsIfAllowed},
	{"issue a reset link", nil, func(s roster.Service, u string, _ prepared) error {
		_, err := s.CreateResetLink(ctx, u, 0, false)
		return err
	}, nil},
	{"deactivate", nil, func(s roster.Service, u string, _ prepared) error {
		_, err := s.DeactivateUser(ctx, u, "")
		return err
	}, nil},
	{"reactivate", func(t *testing.T, e Env, u string) prepared {
		must(e.Admin().DeactivateUser(ctx, u, ""))(t)
		return prepared{}
	}, func(s roster.Service, u string, _ prepared) error {
		_, err := s.ReactivateUser(ctx, u)
		return err
	}, nil},
	{"set the expiry", nil, func(s roster.Service, u string, _ prepared) error {
		_, err := s.SetExpiry(ctx, u, "30d")
		return err
	}, nil},
	{"delete", nil, func(s roster.Service, u string, _ prepared) error {
		_, err := s.DeleteUser(ctx, u)
		return err
	}, nil},
	{"mint a token", nil, func(s roster.Service, u string, _ prepared) error {
		_, err := s.CreateToken(ctx, roster.CreateToken{User: u, Name: "minted"})
		return err
	}, nil},
	{"rotate a token", adminToken, func(s roster.Service, _ string, p prepared) error {
		_, err := s.RotateToken(ctx, roster.RotateToken{ID: p.token})
		return err
	}, nil},
	{"revoke a token", adminToken, func(s roster.Service, _ string, p prepared) error {
		_, err := s.RevokeToken(ctx, p.token)
		return err
	}, nil},
}

func adminToken(t *testing.T, e Env, u string) prepared {
	return prepared{token: must(e.Admin().CreateToken(ctx, roster.CreateToken{User: u, Name: "theirs"}))(t).ID}
}

// testActOnMatrix tries every action of R14 by each kind of actor on each
// kind of target. Every actor holds the permission each action names, so
// what denies is only R5 (owners) and R14 (the target holds more). The
// role "tag" (users.view) is on every target, so that removing it is a
// change of roles that grants nothing.
func testActOnMatrix(t *testing.T, e Env) {
	a := e.Admin()
	must(a.CreatePermission(ctx, roster.CreatePermission{Name: "invoices.view"}))(t)
	must(a.CreateRole(ctx, roster.CreateRole{Name: "tag", Permissions: []string{roster.PermUsersView}}))(t)
	must(a.CreateRole(ctx, roster.CreateRole{Name: "billing", Permissions: []string{"invoices.view"}}))(t)
	helpdesk := []string{roster.PermUsersView, roster.PermUsersCreate, roster.PermUsersManage, roster.PermUsersDelete, roster.PermTokensManage}
	must(a.CreateRole(ctx, roster.CreateRole{Name: "helpdesk", Permissions: helpdesk}))(t)

	actors := map[string][]string{"owner": {roster.RoleOwner}, "admin": {roster.RoleAdmin}, "helpdesk": {"helpdesk"}}
	targets := map[string][]string{
		"owner":    {roster.RoleOwner},
		"admin":    {roster.RoleAdmin},
		"helpdesk": {"helpdesk"},
		"member":   {roster.RoleMember},
		"billing":  {"billing"}, // an application permission helpdesk lacks
	}
	// allowed[actor] lists the targets the actor may act on; for the rest
	// wantRule is the rule that says no.
	allowed := map[string][]string{
		"owner":    {"owner", "admin", "helpdesk", "member", "billing"},
		"admin":    {"admin", "helpdesk", "member", "billing"},
		"helpdesk": {"helpdesk", "member"},
	}
	for actor, roles := range actors {
		create(t, a, actor+"-actor@example.com", roles...)
	}
	n := 0
	for _, actor := range []string{"owner", "admin", "helpdesk"} {
		as := e.As(actor + "-actor@example.com")
		for _, target := range []string{"owner", "admin", "helpdesk", "member", "billing"} {
			for _, pa := range personActions {
				n++
				name := fmt.Sprintf("%s %s %s", actor, pa.name, target)
				email := fmt.Sprintf("t%d.%s@example.com", n, target)
				create(t, a, email, append([]string{"tag"}, targets[target]...)...)
				var p prepared
				if pa.setup != nil {
					p = pa.setup(t, e, email)
				}
				err := pa.act(as, email, p)
				ok := contains(allowed[actor], target)
				if pa.check != nil {
					pa.check(t, e, name, p, ok)
				}
				switch {
				case ok && err != nil:
					t.Errorf("%s: %v; want allowed", name, err)
				case !ok:
					wantRule := "(R14)"
					if target == "owner" {
						wantRule = "(R5)"
					}
					if !isForbidden(err) || !strings.Contains(err.Error(), wantRule) {
						t.Errorf("%s: %v; want forbidden by %s", name, err, wantRule)
					}
				}
			}
		}
	}
	// R18 for every kind of person: changing one's own password (R15: all
	// may) ends one's browser sessions; API tokens are separate and stay.
	for _, kind := range []string{"owner", "admin", "helpdesk", "member", "billing"} {
		email := "self-" + kind + "@example.com"
		must(a.CreateUser(ctx, roster.CreateUser{Email: email, Roles: targets[kind], Password: sessionPassword}))(t)
		session := e.StartSession(t, email, sessionPassword)
		tok := must(a.CreateToken(ctx, roster.CreateToken{User: email, Name: "theirs"}))(t)
		if _, err := e.As(email).ChangePassword(ctx, roster.ChangePassword{Current: sessionPassword, New: "Changed-Long-Passphrase"}); err != nil {
			t.Errorf("%s changes their own password: %v; want allowed (R15)", kind, err)
		}
		if e.SessionLive(session) {
			t.Errorf("%s changed their own password; their browser session lives on (R18)", kind)
		}
		if svc, err := e.WithToken(tok.Token); err != nil {
			t.Errorf("%s changed their own password; their API token: %v, want it alive (R18)", kind, err)
		} else if _, err := svc.Whoami(ctx); err != nil {
			t.Errorf("%s changed their own password; their API token: %v, want it alive (R18)", kind, err)
		}
	}

	// The refusal names what the actor lacks.
	create(t, a, "named@example.com", "billing")
	_, err := e.As("helpdesk-actor@example.com").DeactivateUser(ctx, "named@example.com", "")
	if err == nil || !strings.Contains(err.Error(), "invoices.view") {
		t.Fatalf("R14 refusal does not name the permission: %v", err)
	}
}

func isForbidden(err error) bool { return errors.Is(err, roster.ErrForbidden) }

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func testOwnProfile(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "mem@example.com", roster.RoleMember)
	create(t, a, "other@example.com", roster.RoleMember)
	me := e.As("mem@example.com")
	r := must(me.UpdateUser(ctx, "mem@example.com", roster.UpdateUser{Name: ptr("Mem Ber"), Username: ptr("mem")}))(t)
	if !r.Changed || r.User.Name != "Mem Ber" || r.User.Username != "mem" {
		t.Fatalf("own name and username: %+v", r)
	}
	_, err := me.UpdateUser(ctx, "mem@example.com", roster.UpdateUser{Email: ptr("me2@example.com")})
	wantErr(t, err, roster.ErrForbidden, "changing one's own email without users.manage")
	_, err = me.UpdateUser(ctx, "mem@example.com", roster.UpdateUser{Links: map[string]string{"github": "me"}})
	wantErr(t, err, roster.ErrForbidden, "changing one's own links without users.manage")
	_, err = me.UpdateUser(ctx, "other@example.com", roster.UpdateUser{Name: ptr("X")})
	wantErr(t, err, roster.ErrForbidden, "changing another's name")
	_, err = me.UpdateUser(ctx, "other@example.com", roster.UpdateUser{Username: ptr("mem")})
	wantErr(t, err, roster.ErrForbidden, "another's username, even a taken one")
	// A taken username is still refused for oneself.
	must(a.UpdateUser(ctx, "other@example.com", roster.UpdateUser{Username: ptr("oth")}))(t)
	_, err = me.UpdateUser(ctx, "mem@example.com", roster.UpdateUser{Username: ptr("OTH")})
	wantErr(t, err, roster.ErrConflict, "taking another's username")
}

func testNotices(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "mem@example.com", roster.RoleMember)
	create(t, a, "mgr@example.com", roster.RoleManager)
	me := e.As("mem@example.com")
	if n := must(me.Notices(ctx, true))(t); len(n) != 0 {
		t.Fatalf("a new user has notices %+v", n)
	}
	must(a.SetRoles(ctx, "mem@example.com", []string{roster.RoleViewer}))(t)
	must(a.CreateProject(ctx, roster.CreateProject{Slug: "apollo", Name: "Apollo"}))(t)
	must(a.AddMembers(ctx, "apollo", []string{"mem@example.com", "mgr@example.com"}))(t)
	must(e.As("mgr@example.com").RemoveMembers(ctx, "apollo", []string{"mem@example.com"}))(t)
	// Changes to someone else are not this user's notices.
	must(a.SetRoles(ctx, "mgr@example.com", []string{roster.RoleViewer}))(t)

	peek := must(me.Notices(ctx, false))(t)
	want := []string{"removed you from the project apollo", "added you to the project apollo", "changed your roles from member to viewer"}
	if len(peek) != len(want) {
		t.Fatalf("notices %+v; want %d, newest first", peek, len(want))
	}
	for i, n := range peek {
		if n.Text != want[i] || n.At.IsZero() || n.Actor == "" {
			t.Errorf("notice %d is %+v; want %q with who and when", i, n, want[i])
		}
	}
	if peek[0].Actor != "mgr@example.com" {
		t.Errorf("the removal's actor is %q, want mgr@example.com", peek[0].Actor)
	}
	if again := must(me.Notices(ctx, true))(t); len(again) != len(want) {
		t.Fatalf("peeking marked notices seen: then %d", len(again))
	}
	if after := must(me.Notices(ctx, false))(t); len(after) != 0 {
		t.Fatalf("notices seen are shown again: %+v", after)
	}
	// R17: a user who must change their password may still look.
	must(a.SetPassword(ctx, "mem@example.com", roster.SetPassword{Password: "temporary-passphrase", MustChangePassword: true}))(t)
	must(a.SetRoles(ctx, "mem@example.com", []string{roster.RoleMember}))(t)
	if n := must(me.Notices(ctx, true))(t); len(n) != 1 {
		t.Fatalf("notices before a required password change: %+v", n)
	}
}

// settingSamples are a valid value of every settings key.
var settingSamples = map[string]string{
	"base_url": "https://people.example.com", "mail.from": "roster@example.com", "mail.host": "127.0.0.1",
	"mail.password_file": "/etc/hostname", "mail.port": "2525", "mail.tls": "none", "mail.username": "roster",
	"org.name": "Acme", "password.min_length": "12", "seats": "50", "invite.ttl": "3d", "invite.resend_ttl": "2d",
	"reset.ttl": "2h", "signin.ttl": "20m", "signin.methods": "password,link", "session.idle": "2h", "session.ttl": "3d",
	"audit.retention": "400d",
	// At least the harness's own tokens' lifetime (remote As), so they still mint.
	"tokens.max_ttl": "400d",
}

// testSettingsAuthority is R16's matrix: every settings key, for every
// built-in role. Organisation settings need settings.manage; host
// settings are never set nor read through the server, owners included,
// and are set in local mode by whoever holds the store file.
func testSettingsAuthority(t *testing.T, e Env) {
	a := e.Admin()
	for _, r := range roster.BuiltinRoles {
		create(t, a, "s-"+r.Name+"@example.com", r.Name)
	}
	for _, spec := range roster.SettingSpecs {
		v, ok := settingSamples[spec.Key]
		if !ok {
			t.Fatalf("no sample value for setting %s", spec.Key)
		}
		for _, r := range roster.BuiltinRoles {
			_, err := e.As("s-"+r.Name+"@example.com").SetSetting(ctx, spec.Key, v)
			may := slices.Contains(r.Permissions, roster.PermSettingsManage) || r.AllPermissions
			if spec.Host && e.Server() {
				may = false
			}
			switch {
			case may && err != nil:
				t.Errorf("%s setting %s: %v", r.Name, spec.Key, err)
			case !may && !isForbidden(err):
				t.Errorf("%s setting %s: got %v, want forbidden", r.Name, spec.Key, err)
			case !may && spec.Host && e.Server() && !strings.Contains(err.Error(), "R16"):
				t.Errorf("%s setting %s: the refusal %q does not name R16", r.Name, spec.Key, err)
			}
		}
	}
	set := must(a.GetSettings(ctx))(t)
	for _, spec := range roster.SettingSpecs {
		_, shown := set[spec.Key]
		if want := !(spec.Host && e.Server()); shown != want {
			t.Errorf("settings show lists %s: %v, want %v", spec.Key, shown, want)
		}
	}
	_, err := e.As("s-member@example.com").GetSettings(ctx)
	wantErr(t, err, roster.ErrForbidden, "a member reading settings")
	p := must(e.As("s-member@example.com").Whoami(ctx))(t)
	if p.PasswordPolicy.MinLength != 12 || p.PasswordPolicy.MaxLength != 256 {
		t.Fatalf("a member's account shows the password policy %+v; want 12 to 256", p.PasswordPolicy)
	}
}

func testMustChange(t *testing.T, e Env) {
	a := e.Admin()
	must(a.CreateUser(ctx, roster.CreateUser{Email: "new@example.com", Roles: []string{roster.RoleAdmin},
		Password: "first-long-passphrase", MustChangePassword: true}))(t)
	u := e.As("new@example.com")
	p := must(u.Whoami(ctx))(t)
	if p.User == nil || !p.User.MustChangePassword {
		t.Fatalf("account show: %+v", p)
	}
	_, err := u.ListUsers(ctx, roster.UserFilter{})
	wantErr(t, err, roster.ErrForbidden, "listing users before the required change")
	_, err = u.CreateUser(ctx, roster.CreateUser{Email: "x@example.com"})
	wantErr(t, err, roster.ErrForbidden, "creating a user before the required change")
	_, err = u.GetUser(ctx, "new@example.com")
	wantErr(t, err, roster.ErrForbidden, "anything but the account and the password")
	if err != nil && !strings.Contains(err.Error(), "R17") {
		t.Fatalf("the refusal does not say why: %v", err)
	}
	must(u.ChangePassword(ctx, roster.ChangePassword{Current: "first-long-passphrase", New: "second-long-passphrase"}))(t)
	if p := must(u.Whoami(ctx))(t); p.User.MustChangePassword {
		t.Fatal("must_change_password is still set after the change")
	}
	must(u.ListUsers(ctx, roster.UserFilter{}))(t)
	must(u.CreateUser(ctx, roster.CreateUser{Email: "x@example.com"}))(t)
}

func testInvisibleUsers(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "nobody@example.com", bareRole(t, a))
	s := e.As("nobody@example.com")
	_, errExists := s.GetUser(ctx, e.Owner())
	_, errAbsent := s.GetUser(ctx, "absent@example.com")
	wantErr(t, errExists, roster.ErrForbidden, "show an existing user without users.view")
	wantErr(t, errAbsent, roster.ErrForbidden, "show an absent user without users.view")
	_, errExists = s.Can(ctx, e.Owner(), roster.PermUsersView, "")
	_, errAbsent = s.Can(ctx, "absent@example.com", roster.PermUsersView, "")
	wantErr(t, errExists, roster.ErrForbidden, "can of an existing user without users.view")
	wantErr(t, errAbsent, roster.ErrForbidden, "can of an absent user without users.view")
	if strings.ReplaceAll(errExists.Error(), e.Owner(), "X") != strings.ReplaceAll(errAbsent.Error(), "absent@example.com", "X") {
		t.Fatalf("the refusals differ:\n%v\n%v", errExists, errAbsent)
	}
	// One's own account needs no permission.
	must(s.GetUser(ctx, "nobody@example.com"))(t)
}

func testHiddenText(t *testing.T, e Env) {
	a := e.Admin()
	before := auditCount(t, e)
	for _, bad := range []string{"\x1b[31mred", "a\x00b", "tab\there", "\u0085next", "rtl\u202eevil", "zero\u200bwidth", "\ufeffbom", "iso\u2066late"} {
		_, err := a.CreateUser(ctx, roster.CreateUser{Email: "n@example.com", Name: bad})
		wantErr(t, err, roster.ErrInvalid, fmt.Sprintf("a name holding %q", bad))
		_, err = a.SetSetting(ctx, "org.name", bad)
		wantErr(t, err, roster.ErrInvalid, fmt.Sprintf("org.name holding %q", bad))
		_, err = a.CreateRole(ctx, roster.CreateRole{Name: "r", Permissions: []string{roster.PermUsersView}, Description: bad})
		wantErr(t, err, roster.ErrInvalid, fmt.Sprintf("a role description holding %q", bad))
		_, err = a.CreateToken(ctx, roster.CreateToken{User: e.Owner(), Name: bad})
		wantErr(t, err, roster.ErrInvalid, fmt.Sprintf("a token name holding %q", bad))
		_, err = a.CreateProject(ctx, roster.CreateProject{Slug: "p", Name: bad})
		wantErr(t, err, roster.ErrInvalid, fmt.Sprintf("a project name holding %q", bad))
	}
	create(t, a, "alice@example.com")
	for _, bad := range []string{"ali\u200bce@example.com", "alice\u202e@example.com", "al\x1bice@example.com"} {
		_, err := a.CreateUser(ctx, roster.CreateUser{Email: bad})
		wantErr(t, err, roster.ErrInvalid, fmt.Sprintf("the email %q", bad))
		_, err = a.CreateInvitation(ctx, roster.CreateInvitation{Email: bad})
		wantErr(t, err, roster.ErrInvalid, fmt.Sprintf("an invitation to %q", bad))
		_, err = a.UpdateUser(ctx, "alice@example.com", roster.UpdateUser{Email: ptr(bad)})
		wantErr(t, err, roster.ErrInvalid, fmt.Sprintf("changing an email to %q", bad))
	}
	_, err := a.UpdateUser(ctx, "alice@example.com", roster.UpdateUser{Links: map[string]string{"github": "al\u200bice"}})
	wantErr(t, err, roster.ErrInvalid, "a link value with a zero-width space")
	// Plain text from other scripts is welcome.
	must(a.UpdateUser(ctx, "alice@example.com", roster.UpdateUser{Name: ptr("Zoë Ångström 山田 عائشة")}))(t)
	if got := auditCount(t, e); got != before+2 {
		t.Fatalf("audit grew by %d; want 2", got-before)
	}
}

func testQuoting(t *testing.T, e Env) {
	a := e.Admin()
	long := strings.Repeat("x", 100_000)
	for what, err := range map[string]error{
		"show":       second(a.GetUser(ctx, long)),
		"deactivate": second(a.DeactivateUser(ctx, long, "")),
		"role":       second(a.GetRole(ctx, long)),
		"project":    second(a.GetProject(ctx, long)),
	} {
		if err == nil || len(err.Error()) > 1000 || strings.Contains(err.Error(), strings.Repeat("x", roster.MaxQuoted+1)) {
			t.Errorf("%s of a 100 KB reference: an error of %d bytes", what, len(fmt.Sprint(err)))
		}
	}
	pat := must(a.CreateToken(ctx, roster.CreateToken{User: e.Owner(), Name: "pasted"}))(t).Token
	body := pat[len("roster_pat_"):]
	// Every kind of roster secret, and kinds not yet made: what is
	// shaped like one is withheld, wherever it is pasted.
	for _, secret := range []string{pat, "roster_sgn_" + body, "roster_ses_" + body, "roster_inv_" + body, "roster_zzz_" + body} {
		for what, err := range map[string]error{
			"show":       second(a.GetUser(ctx, secret)),
			"deactivate": second(a.DeactivateUser(ctx, secret, "")),
			"reset link": second(a.CreateResetLink(ctx, secret, 0, false)),
			"role":       second(a.GetRole(ctx, secret)),
			"project":    second(a.GetProject(ctx, secret)),
			"assign":     second(a.AssignRole(ctx, secret, e.Owner())),
			"member":     second(a.AddMembers(ctx, secret, []string{e.Owner()})),
		} {
			if err == nil {
				t.Fatalf("%s of a pasted %.10s…: no error", what, secret)
			}
			if msg := err.Error() + roster.Hint(err); strings.Contains(msg, body) {
				t.Errorf("%s echoes the secret: %v", what, err)
			}
		}
	}
}

func second[T any](_ T, err error) error { return err }

func testNoRoles(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "x@example.com", roster.RoleManager)
	_, err := a.SetRoles(ctx, "x@example.com", nil)
	wantErr(t, err, roster.ErrInvalid, "setting no roles")
	if u := must(a.GetUser(ctx, "x@example.com"))(t); len(u.Roles) != 1 {
		t.Fatalf("roles after a refused empty set: %v", u.Roles)
	}
}

func testRoleHolders(t *testing.T, e Env) {
	a := e.Admin()
	must(a.CreateRole(ctx, roster.CreateRole{Name: "rolekeeper", Permissions: []string{roster.PermRolesManage, roster.PermRolesView, roster.PermUsersView}}))(t)
	must(a.CreateRole(ctx, roster.CreateRole{Name: "tag", Permissions: []string{roster.PermUsersView}}))(t)
	must(a.CreateRole(ctx, roster.CreateRole{Name: "spare", Permissions: []string{roster.PermUsersView}}))(t)
	create(t, a, "rk@example.com", "rolekeeper")
	create(t, a, "mgr@example.com", roster.RoleManager, "tag")
	create(t, a, "mem@example.com", roster.RoleMember, "spare")
	rk := e.As("rk@example.com")
	before := auditCount(t, e)
	// rk may grant roles.view (R4) but may not act on the manager, who
	// holds projects.members: so rk may not change what "tag" gives them.
	_, err := rk.UpdateRole(ctx, "tag", roster.UpdateRole{Add: []string{roster.PermRolesView}})
	wantErr(t, err, roster.ErrForbidden, "adding to a role a manager holds, without R14 toward the manager")
	if !strings.Contains(err.Error(), "mgr@example.com") || !strings.Contains(err.Error(), roster.PermProjectsMembers) {
		t.Errorf("the refusal names no holder or permission: %v", err)
	}
	_, err = rk.UpdateRole(ctx, "tag", roster.UpdateRole{Remove: []string{roster.PermUsersView}, Add: []string{roster.PermRolesView}})
	wantErr(t, err, roster.ErrForbidden, "swapping a role's permissions under a manager")
	if r := must(a.GetRole(ctx, "tag"))(t); len(r.Permissions) != 1 || r.Permissions[0] != roster.PermUsersView {
		t.Fatalf("tag after refused edits: %v", r.Permissions)
	}
	if got := auditCount(t, e); got != before {
		t.Fatalf("refused edits wrote %d audit events", got-before)
	}
	// A role whose holders rk may act on, rk may edit.
	must(rk.UpdateRole(ctx, "spare", roster.UpdateRole{Add: []string{roster.PermRolesView}}))(t)
	// The description alone changes nobody's rights.
	must(rk.UpdateRole(ctx, "tag", roster.UpdateRole{Description: ptr("labels")}))(t)

	// Taking a user's last role away is refused, like setting none.
	create(t, a, "solo@example.com", roster.RoleViewer)
	_, err = a.UnassignRole(ctx, roster.RoleViewer, "solo@example.com")
	wantErr(t, err, roster.ErrInvalid, "unassigning a user's only role")
	if u := must(a.GetUser(ctx, "solo@example.com"))(t); len(u.Roles) != 1 {
		t.Fatalf("roles after a refused unassign: %v", u.Roles)
	}
	must(a.UnassignRole(ctx, "spare", "mem@example.com"))(t)
}
