package core_test

import (
	"context"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/mail/mailtest"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

func mailService(t *testing.T, port int) roster.Service {
	t.Helper()
	ctx := context.Background()
	s := localService(t, filepath.Join(t.TempDir(), "roster.db"))
	for k, v := range map[string]string{"mail.host": "127.0.0.1", "mail.port": strconv.Itoa(port), "mail.tls": "none",
		"mail.from": "roster@example.com", "base_url": "https://id.example.com", "org.name": "Example Co"} {
		if _, err := s.SetSetting(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

var linkRE = regexp.MustCompile(`https://id\.example\.com/(invite|reset)/(roster_[a-z]{3}_[a-z2-7]+)`)

// TestInvitationMail sends an invitation and a reset link through a real
// SMTP server and uses the links that arrive.
func TestInvitationMail(t *testing.T) {
	ctx := context.Background()
	srv := mailtest.Start(t)
	s := mailService(t, srv.Port)

	inv, err := s.CreateInvitation(ctx, roster.CreateInvitation{Email: "ann@example.com", Name: "Ann", Roles: []string{"manager"}, Send: true})
	if err != nil || !inv.Sent || inv.MailError != "" {
		t.Fatalf("invite --send: %+v, %v", inv, err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages arrived; want 1", len(msgs))
	}
	m := msgs[0]
	if len(m.To) != 1 || m.To[0] != "ann@example.com" || m.From != "roster@example.com" {
		t.Errorf("envelope from %s to %v", m.From, m.To)
	}
	if m.Subject != "You are invited to Example Co" {
		t.Errorf("subject %q", m.Subject)
	}
	for _, want := range []string{"Hello Ann,", "You are invited to Example Co by an administrator, with the role manager.", "lasts 7 days, until "} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, m.Body)
		}
	}
	link := linkRE.FindStringSubmatch(m.Body)
	if link == nil || link[1] != "invite" {
		t.Fatalf("no invitation link in:\n%s", m.Body)
	}
	if _, err := s.AcceptInvitation(ctx, roster.AcceptInvitation{Token: link[2], Password: "A-Long-Enough-Pass"}); err != nil {
		t.Fatalf("accepting the mailed link: %v", err)
	}

	rl, err := s.CreateResetLink(ctx, "ann@example.com", 0, true)
	if err != nil || !rl.Sent {
		t.Fatalf("reset-link --send: %+v, %v", rl, err)
	}
	m = srv.Messages()[1]
	link = linkRE.FindStringSubmatch(m.Body)
	if m.To[0] != "ann@example.com" || link == nil || link[1] != "reset" {
		t.Fatalf("reset mail to %v:\n%s", m.To, m.Body)
	}
	if _, err := s.RedeemResetLink(ctx, link[2], "Another-Long-Pass"); err != nil {
		t.Fatalf("using the mailed reset link: %v", err)
	}
	sent, err := s.ListAudit(ctx, roster.AuditFilter{Action: "invite.send", Limit: 10})
	if err != nil || len(sent) != 1 {
		t.Fatalf("invite.send events: %v, %v", sent, err)
	}
}

// TestMailFailureKeepsInvitation: when the mail server cannot be reached
// the invitation stands, usable through a resent link.
func TestMailFailureKeepsInvitation(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	s := mailService(t, port)

	inv, err := s.CreateInvitation(ctx, roster.CreateInvitation{Email: "ann@example.com", Send: true})
	if err != nil {
		t.Fatalf("a mail failure failed the invitation: %v", err)
	}
	if inv.Sent || inv.MailError == "" {
		t.Fatalf("invitation after a mail failure: %+v", inv)
	}
	pending, err := s.ListInvitations(ctx, roster.InvitePending)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending invitations: %v, %v", pending, err)
	}
	fresh, err := s.ResendInvitation(ctx, "ann@example.com", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcceptInvitation(ctx, roster.AcceptInvitation{Token: fresh.Token, Password: "A-Long-Enough-Pass"}); err != nil {
		t.Fatal(err)
	}
}

// TestSendNeedsMailSettings: --send without mail settings is refused
// before anything is written.
func TestSendNeedsMailSettings(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := core.New(db).As(core.Actor{Name: "local:test"})
	if _, err := s.Init(ctx, roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateInvitation(ctx, roster.CreateInvitation{Email: "ann@example.com", Send: true})
	if !strings.Contains(err.Error(), "mail is not configured") {
		t.Fatalf("invite --send without mail settings: %v", err)
	}
	if _, err := s.GetUser(ctx, "ann@example.com"); err == nil {
		t.Fatal("a refused invitation left a user behind")
	}
}
