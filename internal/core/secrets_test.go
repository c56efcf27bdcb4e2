package core_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/password"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

// TestNoSecretsInStore reads the raw store files after passwords, an
// invitation and a reset link were made and used: no token and no
// password may appear in them, only hashes; and the stored hash verifies.
func TestNoSecretsInStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roster.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := core.New(db).As(core.Actor{Name: "local:test"})
	const ownerPW, annPW, boPW = "Owner-Passphrase-One", "Ann-Passphrase-Two", "Bo-Passphrase-Three"
	if _, err := s.Init(ctx, roster.InitParams{OwnerEmail: "owner@example.com", Password: ownerPW}); err != nil {
		t.Fatal(err)
	}
	inv, err := s.CreateInvitation(ctx, roster.CreateInvitation{Email: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcceptInvitation(ctx, roster.AcceptInvitation{Token: inv.Token, Password: annPW}); err != nil {
		t.Fatal(err)
	}
	pending, err := s.CreateInvitation(ctx, roster.CreateInvitation{Email: "cy@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, roster.CreateUser{Email: "bo@example.com"}); err != nil {
		t.Fatal(err)
	}
	rl, err := s.CreateResetLink(ctx, "bo@example.com", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemResetLink(ctx, rl.Token, boPW); err != nil {
		t.Fatal(err)
	}
	unused, err := s.CreateResetLink(ctx, "ann@example.com", 0, false)
	if err != nil {
		t.Fatal(err)
	}

	var raw []byte
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		raw = append(raw, b...)
	}
	for _, secret := range []string{ownerPW, annPW, boPW, inv.Token, pending.Token, rl.Token, unused.Token} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the store holds %q in clear", secret)
		}
		// Nor any long piece of a token's random part.
		if strings.HasPrefix(secret, "roster_") && bytes.Contains(raw, []byte(secret[11:31])) {
			t.Errorf("the store holds part of %q", secret)
		}
	}

	// What is stored is an argon2id hash that verifies.
	err = db.Read(ctx, func(tx store.Tx) error {
		for email, pw := range map[string]string{"owner@example.com": ownerPW, "ann@example.com": annPW, "bo@example.com": boPW} {
			u, err := tx.UserByRef(ctx, email)
			if err != nil {
				return err
			}
			if ok, _ := password.Verify(u.PasswordHash, pw); !ok {
				t.Errorf("the password of %s does not verify against its stored hash", email)
			}
			if u.Status != roster.StatusActive {
				t.Errorf("%s is %s", email, u.Status)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Nor does the audit log hold a secret.
	events, err := s.ListAudit(ctx, roster.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		text := strings.Join([]string{e.Actor, e.Target, e.Action}, " ") + " " + strings.TrimSpace(strings.ReplaceAll(jsonOf(t, e.Details), "\n", ""))
		for _, secret := range []string{ownerPW, annPW, boPW, inv.Token, rl.Token, "argon2id"} {
			if strings.Contains(text, secret) {
				t.Errorf("audit event %d (%s) holds %q", e.ID, e.Action, secret)
			}
		}
	}
}
