package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/client"
	"github.com/roster-dev/roster/internal/mail/mailtest"
	"github.com/roster-dev/roster/internal/roster"
)

// TestMailTakeover replays the review's takeover through mail settings
// against a real roster serve: an admin who is not the owner points mail at
// a server of their own, then asks for the owner's sign-in link. Host
// settings (R16) come only from the server's environment here, so every
// step must be refused, and the attacker's SMTP server must see no
// connection at all: neither the server's SMTP password nor the owner's link.
func TestMailTakeover(t *testing.T) {
	legit, attacker := mailtest.Start(t), mailtest.Start(t)
	r := &replicas{t: t, db: filepath.Join(t.TempDir(), "roster.db")}
	r.roster("init", "--owner-email", "root@example.com", "--random-password")
	r.roster("user", "create", "eve@example.com", "--role", "admin", "--no-password")
	eveToken := r.token("eve@example.com")
	server := r.serve("ROSTER_MAIL_HOST=127.0.0.1", "ROSTER_MAIL_PORT="+strconv.Itoa(legit.Port),
		"ROSTER_MAIL_TLS=none", "ROSTER_MAIL_FROM=roster@example.com", "ROSTER_MAIL_USERNAME=roster",
		"ROSTER_MAIL_PASSWORD=smtp-secret", "ROSTER_BASE_URL=https://people.example.com")
	eve, err := client.New(server, client.Options{Token: eveToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	for key, value := range map[string]string{
		"mail.host": "127.0.0.1", "mail.port": strconv.Itoa(attacker.Port), "mail.tls": "none",
		"mail.username": "eve", "mail.from": "eve@example.com", "base_url": "https://attacker.example",
		"mail.password_file": "/etc/hostname",
	} {
		_, err := eve.SetSetting(ctx, key, value)
		if !errors.Is(err, roster.ErrForbidden) || !strings.Contains(err.Error(), "R16") {
			t.Errorf("an admin setting %s through the server: got %v, want forbidden by R16", key, err)
		}
	}
	set, err := eve.GetSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range set {
		if roster.IsHostSetting(k) {
			t.Errorf("settings show through the server reveals the host setting %s", k)
		}
	}

	// Mail still works, through the host's own settings.
	inv, err := eve.CreateInvitation(ctx, roster.CreateInvitation{Email: "new@example.com", Send: true})
	if err != nil || !inv.Sent {
		t.Fatalf("invite --send: %+v, %v", inv, err)
	}
	// Anyone may ask for the owner's sign-in link; it goes to the owner,
	// through the host's SMTP server, pointing at the host's base URL.
	res, err := http.PostForm(server+"/signin/email", url.Values{"link-email": {"root@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /signin/email: %s", res.Status)
	}
	var toOwner *mailtest.Received
	for deadline := time.Now().Add(30 * time.Second); toOwner == nil && time.Now().Before(deadline); {
		for _, m := range legit.Messages() {
			if len(m.To) == 1 && m.To[0] == "root@example.com" {
				toOwner = &m
			}
		}
		if toOwner == nil {
			time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
		}
	}
	if toOwner == nil {
		t.Fatal("the owner's sign-in link was not mailed within 30s")
	}
	if toOwner.AuthUser != "roster" || !strings.Contains(toOwner.Body, "https://people.example.com/signin/") {
		t.Errorf("the owner's link went out as %q, with body:\n%s", toOwner.AuthUser, toOwner.Body)
	}
	if n := attacker.Sessions(); n != 0 {
		t.Fatalf("the attacker's SMTP server was connected to %d times", n)
	}
}
