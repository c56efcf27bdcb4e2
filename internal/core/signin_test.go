package core_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/storetest"
)

// setHash stores hash as the password of email, as an import from another
// system, or an older roster, left it.
func setHash(t *testing.T, db store.Store, email, hash string) {
	t.Helper()
	err := db.Write(context.Background(), func(tx store.Tx) error {
		u, err := tx.UserByRef(context.Background(), email)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
		return tx.UpdateUser(context.Background(), u)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func storedHash(t *testing.T, db store.Store, email string) string {
	t.Helper()
	var h string
	err := db.Read(context.Background(), func(tx store.Tx) error {
		u, err := tx.UserByRef(context.Background(), email)
		h = u.PasswordHash
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestSignInRehashes: a hash made with other parameters (the previous
// default profile) or by bcrypt still signs in, and is replaced by one
// with the current parameters at that sign-in.
func TestSignInRehashes(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	c := core.New(db)
	admin := c.As(core.Actor{Name: "local:test"})
	if _, err := admin.Init(ctx, roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("bcrypt-pass-phrase"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for email, hash := range map[string]string{
		"old@example.com": oldProfileHash("old-profile-phrase"),
		"bc@example.com":  string(bc),
	} {
		if _, err := admin.CreateUser(ctx, roster.CreateUser{Email: email}); err != nil {
			t.Fatal(err)
		}
		setHash(t, db, email, hash)
	}
	for email, pw := range map[string]string{"old@example.com": "old-profile-phrase", "bc@example.com": "bcrypt-pass-phrase"} {
		if _, err := c.SignIn(ctx, email, pw, "test"); err != nil {
			t.Fatalf("%s signs in: %v", email, err)
		}
		if h := storedHash(t, db, email); !strings.HasPrefix(h, "$argon2id$v=19$m=7168,t=5,p=1$") {
			t.Errorf("%s's hash after signing in: %.40s…; want the current profile", email, h)
		}
		if _, err := c.SignIn(ctx, email, pw, "again"); err != nil {
			t.Fatalf("%s signs in with the new hash: %v", email, err)
		}
	}
}

// TestSignInMustChange: R17 lets a user who must change their password
// sign in; the token does nothing else until they have.
func TestSignInMustChange(t *testing.T) {
	ctx := context.Background()
	c := core.New(storetest.SQLite(t))
	admin := c.As(core.Actor{Name: "local:test"})
	if _, err := admin.Init(ctx, roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateUser(ctx, roster.CreateUser{Email: "new@example.com", Roles: []string{roster.RoleAdmin},
		Password: "first-long-phrase", MustChangePassword: true}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.SignIn(ctx, "new@example.com", "first-long-phrase", "login")
	if err != nil {
		t.Fatalf("a must-change user signs in: %v", err)
	}
	svc, err := c.Authenticate(ctx, tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ListUsers(ctx, roster.UserFilter{}); !errors.Is(err, roster.ErrForbidden) {
		t.Fatalf("listing before the change: %v; want forbidden", err)
	}
	if _, err := svc.ChangePassword(ctx, roster.ChangePassword{Current: "first-long-phrase", New: "second-long-phrase"}); err != nil {
		t.Fatal(err)
	}
	svc, err = c.Authenticate(ctx, tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ListUsers(ctx, roster.UserFilter{}); err != nil {
		t.Fatalf("listing after the change: %v", err)
	}
}

// oldProfileHash is pw hashed as roster did before it chose OWASP's
// m=7168,t=5 profile: m=19456,t=2.
func oldProfileHash(pw string) string {
	salt := []byte("sixteen-byte-slt")
	key := argon2.IDKey([]byte(pw), salt, 2, 19456, 1, 32)
	b64 := base64.RawStdEncoding
	return "$argon2id$v=19$m=19456,t=2,p=1$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
}
