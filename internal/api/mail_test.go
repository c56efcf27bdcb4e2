package api_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/mail/mailtest"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// TestServerMailPassword: a remote admin cannot make the server read a
// file of its host (R16): mail.password_file cannot be set through the API,
// and mail authenticates with the server's own password even when the
// setting, set locally, names a file (here standing in for the TLS key).
func TestServerMailPassword(t *testing.T) {
	smtp := mailtest.StartWith(t, mailtest.Options{Username: "roster", Password: "smtp-secret"})
	key := filepath.Join(t.TempDir(), "tls.key")
	if err := os.WriteFile(key, []byte("KEY-MATERIAL\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, api.Options{}, nil, core.WithServer("smtp-secret"))
	// The local administrator, whose core is not the server's, configures mail.
	local := core.New(e.db).As(core.Actor{Name: "local:test"})
	for k, v := range map[string]string{"mail.host": smtp.Host, "mail.port": strconv.Itoa(smtp.Port),
		"mail.from": "roster@example.com", "mail.username": "roster", "mail.tls": "none", "mail.password_file": key} {
		if _, err := local.SetSetting(ctx, k, v); err != nil {
			t.Fatalf("local set %s: %v", k, err)
		}
	}
	e.fails("PUT", "/api/v1/settings/mail.password_file", e.owner, wire.SetSetting{Value: "/etc/ssl/private/other.key"}, 403, wire.CodeForbidden)
	inv := ok[roster.Invitation](e, "POST", "/api/v1/invitations", e.owner, wire.CreateInvitation{Email: "ann@example.com", Send: true})
	if !inv.Sent {
		t.Fatalf("not mailed: %+v", inv)
	}
	if m := smtp.Messages(); len(m) != 1 || m[0].AuthUser != "roster" {
		t.Fatalf("mail: %+v", m)
	}
}
