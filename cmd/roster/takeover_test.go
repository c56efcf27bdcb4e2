package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
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

// TestHostSettingsServerWins: host settings stored in the store (set
// locally, R16) still work through a server that is given none of them,
// and each one the server is given, by flag, environment or config file,
// wins over the stored one. Here every stored value points at a stand-in
// for a stale or hostile mail server and host; the server's own values
// point at the real ones, and only the real ones may see anything.
func TestHostSettingsServerWins(t *testing.T) {
	legit := mailtest.StartWith(t, mailtest.Options{Username: "roster", Password: "smtp-secret"})
	stale := mailtest.Start(t)
	dir := t.TempDir()
	r := &replicas{t: t, db: filepath.Join(dir, "roster.db")}
	r.roster("init", "--owner-email", "root@example.com", "--random-password")
	for key, value := range map[string]string{
		// Given to the server by none of its sources: the stored value is used.
		"mail.host": "127.0.0.1", "mail.tls": "none",
		// Given by the server's flag, environment or config file.
		"mail.port": strconv.Itoa(stale.Port), "mail.from": "stored@example.com",
		"mail.username": "stored", "base_url": "https://stored.example",
	} {
		r.roster("settings", "set", key, value)
	}
	token := r.token("root@example.com")
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte("mail:\n  from: config@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	server := r.serveWith([]string{"--addr", "127.0.0.1:0", "--base-url", "https://people.example.com", "--mail-username", "roster"},
		"ROSTER_CONFIG="+config, "ROSTER_MAIL_PORT="+strconv.Itoa(legit.Port),
		"ROSTER_MAIL_USERNAME=not-the-flag", "ROSTER_MAIL_PASSWORD=smtp-secret")
	owner, err := client.New(server, client.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}

	inv, err := owner.CreateInvitation(context.Background(), roster.CreateInvitation{Email: "new@example.com", Send: true})
	if err != nil || !inv.Sent {
		t.Fatalf("invite --send through the server: %+v, %v", inv, err)
	}
	if n := stale.Sessions(); n != 0 {
		t.Errorf("the stored mail.port's SMTP server was connected to %d times", n)
	}
	got := legit.Messages()
	if len(got) != 1 {
		t.Fatalf("the server's SMTP server received %d messages, want 1", len(got))
	}
	m := got[0]
	if m.AuthUser != "roster" { // the flag, over the environment and the store
		t.Errorf("mail authenticated as %q, want roster (--mail-username)", m.AuthUser)
	}
	if m.From != "config@example.com" { // the config file, over the store
		t.Errorf("mail sent from %q, want config@example.com (the config file's mail.from)", m.From)
	}
	if !strings.Contains(m.Body, "https://people.example.com/invite/") || strings.Contains(m.Body, "stored.example") {
		t.Errorf("the invitation's link is not the server's --base-url:\n%s", m.Body)
	}
	if !strings.HasPrefix(inv.URL, "https://people.example.com/invite/") {
		t.Errorf("the invitation's URL is %q, want it under --base-url", inv.URL)
	}

	// The store keeps its own values, which local mode still sees.
	if out := r.roster("settings", "show", "-o", "json"); !strings.Contains(out, `"mail.from": "stored@example.com"`) ||
		!strings.Contains(out, `"base_url": "https://stored.example"`) {
		t.Errorf("the stored host settings changed:\n%s", out)
	}
}
