package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rosterRun runs the command line in-process against store db and returns
// stdout, stderr and the exit code.
func rosterRun(t *testing.T, db string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	io := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	code := run(context.Background(), io, append([]string{"--db", db}, args...), Options{})
	return out.String(), errOut.String(), code
}

func mustRun(t *testing.T, db string, args ...string) string {
	t.Helper()
	out, errOut, code := rosterRun(t, db, args...)
	if code != 0 {
		t.Fatalf("roster %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// TestRoleActionMatrix checks every built-in role against every action of
// the command line, through --as: allowed actions exit 0, denied ones 5.
func TestRoleActionMatrix(t *testing.T) {
	db := filepath.Join(t.TempDir(), "roster.db")
	mustRun(t, db, "init", "--owner-email", "root@example.com", "--random-password")
	roles := []string{"owner", "admin", "manager", "member", "viewer"}
	for _, r := range roles {
		mustRun(t, db, "user", "create", r+"@example.com", "--role", r, "--no-password")
	}
	mustRun(t, db, "permission", "create", "app.thing")
	// Every actor belongs to project shared, so R12 allows managers there.
	mustRun(t, db, "project", "create", "shared")
	for _, r := range roles {
		mustRun(t, db, "project", "member", "add", "shared", r+"@example.com")
	}

	// Each action gets fresh targets named after the case, made by the
	// local administrator before the actor tries.
	type action struct {
		name    string
		allowed []string // roles allowed; the others are denied with exit 5
		setup   func(id string) [][]string
		args    func(id string) []string
	}
	user := func(id string) [][]string {
		return [][]string{{"user", "create", id + "@example.com", "--no-password"}}
	}
	role := func(id string) [][]string { return [][]string{{"role", "create", id, "--permission", "users.view"}} }
	all := roles
	// A project every actor belongs to, so that visibility is not what denies.
	proj := func(id string) [][]string {
		add := []string{"project", "member", "add", "p" + id}
		for _, r := range roles {
			add = append(add, r+"@example.com")
		}
		return [][]string{{"project", "create", "p" + id}, add}
	}
	admins := []string{"owner", "admin"}
	// file writes an input file for a command and returns its path.
	files := t.TempDir()
	file := func(name, text string) string {
		path := filepath.Join(files, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	seeRoles := []string{"owner", "admin", "manager", "viewer"}
	// Every actor's password is current before they change it to next.
	current, next := file("current.txt", "Current-Long-Passphrase\n"), file("next.txt", "Next-Long-Passphrase\n")
	withPasswords := func(string) [][]string {
		var set [][]string
		for _, r := range roles {
			set = append(set, []string{"user", "set-password", r + "@example.com", "--password-file", current})
		}
		return set
	}
	actions := []action{
		{"user list", all, nil, func(string) []string { return []string{"user", "list"} }},
		{"user show", all, nil, func(string) []string { return []string{"user", "show", "root@example.com"} }},
		{"user create", admins, nil, func(id string) []string { return []string{"user", "create", id + "@example.com", "--no-password"} }},
		{"user create admin", admins, nil, func(id string) []string {
			return []string{"user", "create", id + "@example.com", "--no-password", "--role", "admin"}
		}},
		{"user create owner", []string{"owner"}, nil, func(id string) []string {
			return []string{"user", "create", id + "@example.com", "--no-password", "--role", "owner"}
		}},
		{"user update", admins, user, func(id string) []string { return []string{"user", "update", id + "@example.com", "--name", "X"} }},
		{"user set-role", admins, user, func(id string) []string { return []string{"user", "set-role", id + "@example.com", "viewer"} }},
		{"user set-role owner", []string{"owner"}, user, func(id string) []string {
			return []string{"user", "set-role", id + "@example.com", "owner"}
		}},
		{"user set-password", admins, user, func(id string) []string {
			return []string{"user", "set-password", id + "@example.com", "--random-password"}
		}},
		{"user deactivate", admins, user, func(id string) []string { return []string{"user", "deactivate", id + "@example.com"} }},
		{"user deactivate owner", []string{"owner"}, func(id string) [][]string {
			return [][]string{{"user", "create", id + "@example.com", "--no-password", "--role", "owner"}}
		}, func(id string) []string { return []string{"user", "deactivate", id + "@example.com"} }},
		{"user reactivate", admins, func(id string) [][]string {
			return append(user(id), []string{"user", "deactivate", id + "@example.com"})
		}, func(id string) []string { return []string{"user", "reactivate", id + "@example.com"} }},
		{"user delete", admins, user, func(id string) []string { return []string{"user", "delete", id + "@example.com", "--yes"} }},
		{"role list", seeRoles, nil, func(string) []string { return []string{"role", "list"} }},
		{"role show", seeRoles, nil, func(string) []string { return []string{"role", "show", "admin"} }},
		{"role create", admins, nil, func(id string) []string { return []string{"role", "create", id, "--permission", "users.view"} }},
		{"role update", admins, role, func(id string) []string { return []string{"role", "update", id, "--description", "d"} }},
		{"role delete", admins, role, func(id string) []string { return []string{"role", "delete", id, "--yes"} }},
		{"role assign", admins, user, func(id string) []string { return []string{"role", "assign", "viewer", id + "@example.com"} }},
		{"role unassign", admins, func(id string) [][]string {
			return [][]string{{"user", "create", id + "@example.com", "--no-password", "--role", "member", "--role", "viewer"}}
		}, func(id string) []string { return []string{"role", "unassign", "member", id + "@example.com"} }},
		// R19: a role's permissions change its holders' rights.
		{"role update held by a manager", admins, func(id string) [][]string {
			return [][]string{role(id)[0], {"user", "create", id + "@example.com", "--no-password", "--role", "manager", "--role", id}}
		}, func(id string) []string { return []string{"role", "update", id, "--add-permission", "roles.view"} }},
		{"permission list", seeRoles, nil, func(string) []string { return []string{"permission", "list"} }},
		{"permission create", admins, nil, func(id string) []string { return []string{"permission", "create", "app." + id} }},
		{"permission delete", admins, func(id string) [][]string { return [][]string{{"permission", "create", "app." + id}} },
			func(id string) []string { return []string{"permission", "delete", "app." + id, "--yes"} }},
		{"can", all, nil, func(string) []string { return []string{"can", "root@example.com", "users.view"} }},
		{"audit list", admins, nil, func(string) []string { return []string{"audit", "list"} }},
		{"settings show", admins, nil, func(string) []string { return []string{"settings", "show"} }},
		{"settings set", admins, nil, func(id string) []string { return []string{"settings", "set", "org.name", id} }},
		{"project list", all, nil, func(string) []string { return []string{"project", "list"} }},
		{"project show", all, nil, func(string) []string { return []string{"project", "show", "shared"} }},
		{"project create", admins, nil, func(id string) []string { return []string{"project", "create", "p" + id} }},
		{"project update", admins, nil, func(id string) []string { return []string{"project", "update", "shared", "--name", id} }},
		{"project archive", admins, proj, func(id string) []string { return []string{"project", "archive", "p" + id} }},
		{"project delete", admins, proj, func(id string) []string { return []string{"project", "delete", "p" + id, "--yes"} }},
		{"project member list", all, nil, func(string) []string { return []string{"project", "member", "list", "shared"} }},
		{"project member add", []string{"owner", "admin", "manager"}, user, func(id string) []string {
			return []string{"project", "member", "add", "shared", id + "@example.com"}
		}},
		{"project member remove", []string{"owner", "admin", "manager"}, func(id string) [][]string {
			return append(user(id), []string{"project", "member", "add", "shared", id + "@example.com"})
		}, func(id string) []string {
			return []string{"project", "member", "remove", "shared", id + "@example.com"}
		}},
		{"can --project", all, nil, func(string) []string {
			return []string{"can", "manager@example.com", "projects.members", "--project", "shared"}
		}},
		// Round 2's commands that act on people, from files and in bulk.
		{"user set-projects", []string{"owner", "admin", "manager"}, user, func(id string) []string {
			return []string{"user", "set-projects", id + "@example.com", "shared"}
		}},
		{"import", admins, nil, func(id string) []string {
			return []string{"import", file(id+".csv", "email,roles\n"+id+"@example.com,member\n")}
		}},
		{"apply", admins, nil, func(id string) []string {
			return []string{"apply", "-f", file(id+".yaml", "users:\n- {email: "+id+"@example.com, roles: [member]}\n")}
		}},
		{"export", all, nil, func(string) []string { return []string{"export"} }},
		{"account update", all, nil, func(id string) []string { return []string{"account", "update", "--name", id} }},
		// R18: ending another's sessions is R14's like setting their
		// password; ending one's own, by changing one's password, is
		// everyone's (R15), with or without one's tokens.
		{"user set-password --revoke-sessions", admins, user, func(id string) []string {
			return []string{"user", "set-password", id + "@example.com", "--random-password", "--revoke-sessions"}
		}},
		{"account password", all, withPasswords, func(string) []string {
			return []string{"account", "password", "--current-password-file", current, "--password-file", next}
		}},
		{"account password --revoke-tokens", all, withPasswords, func(string) []string {
			return []string{"account", "password", "--current-password-file", current, "--password-file", next, "--revoke-tokens"}
		}},
	}
	n := 0
	for _, a := range actions {
		for _, r := range roles {
			n++
			id := fmt.Sprintf("c%d", n)
			allowed := false
			for _, x := range a.allowed {
				allowed = allowed || x == r
			}
			t.Run(a.name+"/"+r, func(t *testing.T) {
				if a.setup != nil {
					for _, s := range a.setup(id) {
						mustRun(t, db, s...)
					}
				}
				args := append([]string{"--as", r + "@example.com"}, a.args(id)...)
				_, errOut, code := rosterRun(t, db, args...)
				switch {
				case allowed && code != 0:
					t.Errorf("%s as %s: exit %d, want 0\n%s", a.name, r, code, errOut)
				case !allowed && code != ExitForbidden:
					t.Errorf("%s as %s: exit %d, want %d (forbidden)\n%s", a.name, r, code, ExitForbidden, errOut)
				}
			})
		}
	}
}
