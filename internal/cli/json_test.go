package cli

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestJSONShapes pins the field names of -o json, which scripts depend on
// (DESIGN.md, docs/json.md). Adding a field means adding it here and there.
func TestJSONShapes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "roster.db")
	mustRun(t, db, "init", "--owner-email", "owner@example.com", "--random-password")
	mustRun(t, db, "permission", "create", "app.view")
	mustRun(t, db, "project", "create", "alpha")
	tests := []struct {
		args []string
		keys string
	}{
		{[]string{"user", "show", "owner@example.com"},
			"created_at deactivated_at email expires_at has_password id kind last_login_at last_login_method links must_change_password name projects roles status updated_at username"},
		{[]string{"user", "create", "a@example.com", "--no-password"},
			"changed created_at deactivated_at email expires_at has_password id kind last_login_at last_login_method links must_change_password name projects roles status updated_at username"},
		{[]string{"user", "create", "b@example.com", "--random-password"},
			"changed created_at deactivated_at email expires_at has_password id kind last_login_at last_login_method links must_change_password name password projects roles status updated_at username"},
		{[]string{"role", "show", "admin"}, "builtin description holders name permissions"},
		{[]string{"permission", "create", "app.edit", "--implies", "app.view"}, "builtin description implies name"},
		{[]string{"can", "owner@example.com", "app.view"}, "allowed granted_by permission user"},
		{[]string{"settings", "set", "seats", "5"}, "changed key value"},
		{[]string{"version"}, "go schema_version version"},
		{[]string{"invite", "create", "inv@example.com"},
			"accepted_at created_at email expires_at invited_by name roles sent status token"},
		{[]string{"user", "reset-link", "a@example.com"}, "email expires_at sent token"},
		{[]string{"project", "show", "alpha"}, "archived created_at members name slug"},
		{[]string{"account", "show"}, "name notices org password_policy permissions user via"},
		{[]string{"org", "show", "default"}, "active_users created_at name projects seats slug status system users"},
		{[]string{"org", "create", "acme", "--owner-email", "ann@acme.example", "--random-password"},
			"active_users changed created_at name owner password projects seats slug status system users"},
		{[]string{"org", "suspend", "acme"}, "active_users changed created_at name projects seats slug status system users"},
		{[]string{"--as", "a@example.com", "token", "create"}, "created_at expires_at id last_used_at last_used_from name revoked scope token user"},
	}
	for _, tt := range tests {
		out := mustRun(t, db, append(tt.args, "-o", "json")...)
		var obj map[string]any
		if err := json.Unmarshal([]byte(out), &obj); err != nil {
			t.Fatalf("%v: %v\n%s", tt.args, err, out)
		}
		if got := sortedKeys(obj); got != tt.keys {
			t.Errorf("roster %s -o json keys:\n got %s\nwant %s", strings.Join(tt.args, " "), got, tt.keys)
		}
	}
	var events []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, db, "audit", "list", "-o", "json")), &events); err != nil || len(events) == 0 {
		t.Fatalf("audit list -o json: %v", err)
	}
	if got, want := sortedKeys(events[0]), "action actor at details id target via"; got != want {
		t.Errorf("audit event keys:\n got %s\nwant %s", got, want)
	}
	var users []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, db, "user", "list", "--status", "invited", "-o", "json")), &users); err != nil || users == nil {
		t.Fatalf("an empty user list must be [], got %v %v", users, err)
	}
}

func sortedKeys(m map[string]any) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, " ")
}
