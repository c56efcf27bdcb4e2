package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/mail/mailtest"
)

// testCtx bounds every test so a bug shows up as a failure, not a hang.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// plainConfig points at srv without TLS.
func plainConfig(srv *mailtest.Server) Config {
	return Config{
		Host:    srv.Host,
		Port:    srv.Port,
		From:    "Roster <noreply@roster.example>",
		TLS:     TLSNone,
		Timeout: 5 * time.Second,
	}
}

// testTLS makes a self-signed certificate for 127.0.0.1, ::1 and localhost
// and returns the server's TLS config and a client config trusting it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "roster mail test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
	}
	return server, &tls.Config{RootCAs: pool}
}

// writePassword writes a password file the way an admin would, with a
// trailing newline.
func writePassword(t *testing.T, pw string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "smtp-password")
	if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// onlyMessage returns the single message srv received.
func onlyMessage(t *testing.T, srv *mailtest.Server) mailtest.Received {
	t.Helper()
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	return msgs[0]
}

func expectNothingSent(t *testing.T, srv *mailtest.Server) {
	t.Helper()
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server got %d messages, want none", n)
	}
}

func TestSendPlain(t *testing.T) {
	srv := mailtest.Start(t)
	longLine := "Open this link to join: https://roster.example/invite?token=" + strings.Repeat("a1=b2", 30)
	body := "Hello Alice,\n\n" + longLine + "\n.\n.a line starting with a dot\n\n-- \nroster"
	err := Send(testCtx(t), plainConfig(srv), Message{
		To:      "Alice Example <alice@example.com>",
		Subject: "You are invited to roster",
		Body:    body,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := onlyMessage(t, srv)

	if got.From != "noreply@roster.example" {
		t.Errorf("envelope sender = %q", got.From)
	}
	if len(got.To) != 1 || got.To[0] != "alice@example.com" {
		t.Errorf("envelope recipients = %q", got.To)
	}
	if got.AuthUser != "" || got.TLS {
		t.Errorf("AuthUser = %q, TLS = %v; want no auth, no TLS", got.AuthUser, got.TLS)
	}
	if got.Subject != "You are invited to roster" {
		t.Errorf("Subject = %q", got.Subject)
	}
	// Send ends the body with a line break if it had none.
	if got.Body != body+"\n" {
		t.Errorf("body = %q\nwant %q", got.Body, body+"\n")
	}

	h := got.Header
	for k, want := range map[string]string{
		"From":                      `"Roster" <noreply@roster.example>`,
		"To":                        `"Alice Example" <alice@example.com>`,
		"Mime-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
	} {
		if v := h.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	if date, err := h.Date(); err != nil {
		t.Errorf("Date header %q: %v", h.Get("Date"), err)
	} else if d := time.Since(date); d < -time.Minute || d > time.Minute {
		t.Errorf("Date header %v is not now", date)
	}
	if id := h.Get("Message-Id"); !regexp.MustCompile(`^<[0-9a-f]{32}@roster\.example>$`).MatchString(id) {
		t.Errorf("Message-ID = %q", id)
	}

	// The wire form: CRLF only, and short 7-bit lines thanks to
	// quoted-printable.
	if strings.Count(got.Data, "\n") != strings.Count(got.Data, "\r\n") {
		t.Errorf("message has bare LF line endings:\n%q", got.Data)
	}
	for _, line := range strings.Split(got.Data, "\r\n") {
		if len(line) > 78 {
			t.Errorf("line longer than 78 characters: %q", line)
		}
	}
}

func TestSendTwiceDistinctMessageIDs(t *testing.T) {
	srv := mailtest.Start(t)
	cfg := plainConfig(srv)
	for range 2 {
		if err := Send(testCtx(t), cfg, Message{To: "bob@example.com", Subject: "x", Body: "y"}); err != nil {
			t.Fatal(err)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("got %d messages", len(msgs))
	}
	if a, b := msgs[0].Header.Get("Message-Id"), msgs[1].Header.Get("Message-Id"); a == b {
		t.Errorf("both messages have Message-ID %s", a)
	}
}

func TestNonASCII(t *testing.T) {
	srv := mailtest.Start(t)
	subject := "Passwort zurücksetzen – Grüße aus Zürich ✓ " + strings.Repeat("é", 40)
	body := "Grüß dich, Zoë!\nНажмите на ссылку: https://roster.example/reset?t=x\n"
	cfg := plainConfig(srv)
	cfg.From = "Röster <noreply@roster.example>"
	err := Send(testCtx(t), cfg, Message{To: "Zoë Ü <zoe@example.com>", Subject: subject, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	got := onlyMessage(t, srv)
	if got.Subject != subject {
		t.Errorf("Subject = %q, want %q", got.Subject, subject)
	}
	if got.Body != body {
		t.Errorf("body = %q, want %q", got.Body, body)
	}
	if raw := got.Header.Get("Subject"); !strings.HasPrefix(raw, "=?utf-8?q?") {
		t.Errorf("raw Subject %q is not RFC 2047 encoded", raw)
	}
	for i, r := range got.Data {
		if r > 127 {
			t.Fatalf("raw message has non-ASCII %q at %d: %q", r, i, got.Data)
		}
	}
	addr, err := got.Header.AddressList("To")
	if err != nil || len(addr) != 1 || addr[0].Name != "Zoë Ü" || addr[0].Address != "zoe@example.com" {
		t.Errorf("To header %q parsed as %v, %v", got.Header.Get("To"), addr, err)
	}
	from, err := got.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Röster" {
		t.Errorf("From header %q parsed as %v, %v", got.Header.Get("From"), from, err)
	}
}

func TestRejectsBadHeaders(t *testing.T) {
	srv := mailtest.Start(t)
	good := Message{To: "alice@example.com", Subject: "hi", Body: "body"}
	tests := []struct {
		name    string
		from    string
		msg     Message
		wantErr string
	}{
		{"CRLF in To", "", Message{To: "alice@example.com\r\nBcc: eve@evil.example", Subject: "hi"}, "To contains a line break"},
		{"LF in To", "", Message{To: "alice@example.com\nBcc: eve@evil.example", Subject: "hi"}, "To contains a line break"},
		{"CR in Subject", "", Message{To: good.To, Subject: "hi\rBcc: eve@evil.example"}, "Subject contains a line break"},
		{"CRLF in Subject", "", Message{To: good.To, Subject: "hi\r\n\r\nfake body"}, "Subject contains a line break"},
		{"LF in From", "noreply@roster.example\nBcc: eve@evil.example", good, "From contains a line break"},
		{"To not an address", "", Message{To: "not an address", Subject: "hi"}, "invalid To address"},
		{"two recipients", "", Message{To: "a@example.com, b@example.com", Subject: "hi"}, "invalid To address"},
		{"empty To", "", Message{Subject: "hi"}, "invalid To address"},
		{"From not an address", "roster", good, "invalid From address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := plainConfig(srv)
			if tt.from != "" {
				cfg.From = tt.from
			}
			err := Send(testCtx(t), cfg, tt.msg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			// The recipient is quoted, so the error itself is one line.
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error message contains a line break: %q", err)
			}
		})
	}
	expectNothingSent(t, srv)
}

func TestNotConfigured(t *testing.T) {
	for _, cfg := range []Config{{}, {Host: "smtp.example.com"}, {From: "noreply@roster.example"}} {
		err := Send(testCtx(t), cfg, Message{To: "a@example.com"})
		if !errors.Is(err, ErrNotConfigured) {
			t.Errorf("Send with %+v: err = %v, want ErrNotConfigured", cfg, err)
		}
	}
}

func TestBadTransportConfig(t *testing.T) {
	srv := mailtest.Start(t)
	cfg := plainConfig(srv)
	cfg.TLS = "ssl"
	if err := Send(testCtx(t), cfg, Message{To: "a@example.com"}); err == nil || !strings.Contains(err.Error(), "unknown TLS mode") {
		t.Errorf("err = %v, want unknown TLS mode", err)
	}
	cfg = plainConfig(srv)
	cfg.Port = 70000
	if err := Send(testCtx(t), cfg, Message{To: "a@example.com"}); err == nil || !strings.Contains(err.Error(), "invalid SMTP port") {
		t.Errorf("err = %v, want invalid SMTP port", err)
	}
	expectNothingSent(t, srv)
}

const (
	testUser     = "roster"
	testPassword = "s3cret-Pa55w0rd"
)

func TestAuthPlain(t *testing.T) {
	srv := mailtest.StartWith(t, mailtest.Options{Username: testUser, Password: testPassword})
	cfg := plainConfig(srv) // 127.0.0.1, which net/smtp trusts with PLAIN without TLS
	cfg.Username = testUser
	cfg.PasswordFile = writePassword(t, testPassword)
	if err := Send(testCtx(t), cfg, Message{To: "a@example.com", Subject: "s", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	if got := onlyMessage(t, srv); got.AuthUser != testUser {
		t.Errorf("AuthUser = %q, want %q", got.AuthUser, testUser)
	}
}

func TestAuthFailures(t *testing.T) {
	srv := mailtest.StartWith(t, mailtest.Options{Username: testUser, Password: testPassword})
	missing := filepath.Join(t.TempDir(), "no-such-file")
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := "wrong-" + testPassword

	tests := []struct {
		name, user, file, wantErr string
	}{
		{"wrong password", testUser, writePassword(t, wrong), "authenticate"},
		{"missing password file", testUser, missing, "read SMTP password file"},
		{"empty password file", testUser, empty, "is empty"},
		{"no password file", testUser, "", "no password file"},
		{"no credentials", "", "", "MAIL FROM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := plainConfig(srv)
			cfg.Username, cfg.PasswordFile = tt.user, tt.file
			err := Send(testCtx(t), cfg, Message{To: "a@example.com"})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), testPassword) {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
	expectNothingSent(t, srv)
}

// net/smtp refuses to send a password in clear text to a host other than
// localhost; Send must surface that rather than leak the password.
func TestAuthRefusedUnencryptedToRemoteHost(t *testing.T) {
	// 127.0.0.2 is loopback on Linux but not a name net/smtp treats as local.
	srv, err := mailtest.StartServerWith(mailtest.Options{Addr: "127.0.0.2:0"})
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	cfg := plainConfig(srv)
	cfg.Username = testUser
	cfg.PasswordFile = writePassword(t, testPassword)
	err = Send(testCtx(t), cfg, Message{To: "a@example.com"})
	if err == nil || !strings.Contains(err.Error(), "unencrypted connection") {
		t.Fatalf("err = %v, want unencrypted connection", err)
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Errorf("error reveals the password: %v", err)
	}
	expectNothingSent(t, srv)
}

func TestStartTLS(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	srv := mailtest.StartWith(t, mailtest.Options{TLSConfig: serverTLS, Username: testUser, Password: testPassword})
	// Both an IP host and a DNS name must verify against the certificate.
	for _, host := range []string{"127.0.0.1", "localhost"} {
		t.Run(host, func(t *testing.T) {
			cfg := plainConfig(srv)
			cfg.Host = host
			cfg.TLS = TLSStartTLS
			cfg.TLSConfig = clientTLS
			cfg.Username = testUser
			cfg.PasswordFile = writePassword(t, testPassword)
			if err := Send(testCtx(t), cfg, Message{To: "a@example.com", Subject: "over TLS", Body: "secret link"}); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, got := range srv.Messages() {
		if !got.TLS || got.AuthUser != testUser || got.Subject != "over TLS" {
			t.Errorf("got TLS=%v AuthUser=%q Subject=%q", got.TLS, got.AuthUser, got.Subject)
		}
	}
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("got %d messages, want 2", n)
	}
	// The caller's TLS config must not be modified (Send clones it).
	if clientTLS.ServerName != "" {
		t.Errorf("Send modified Config.TLSConfig: ServerName = %q", clientTLS.ServerName)
	}
}

func TestStartTLSUntrustedCertificate(t *testing.T) {
	serverTLS, _ := testTLS(t)
	srv := mailtest.StartWith(t, mailtest.Options{TLSConfig: serverTLS})
	cfg := plainConfig(srv)
	cfg.TLS = TLSStartTLS // no TLSConfig: system roots, which do not know the test CA
	err := Send(testCtx(t), cfg, Message{To: "a@example.com"})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate error", err)
	}
	expectNothingSent(t, srv)
}

func TestStartTLSRequiredButNotOffered(t *testing.T) {
	srv := mailtest.Start(t) // plain server: no STARTTLS
	cfg := plainConfig(srv)
	cfg.TLS = TLSStartTLS
	cfg.Username = testUser
	cfg.PasswordFile = writePassword(t, testPassword)
	err := Send(testCtx(t), cfg, Message{To: "a@example.com"})
	if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
		t.Fatalf("err = %v, want STARTTLS not offered", err)
	}
	expectNothingSent(t, srv)
}

func TestImplicitTLS(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	srv := mailtest.StartWith(t, mailtest.Options{TLSConfig: serverTLS, ImplicitTLS: true, Username: testUser, Password: testPassword})
	cfg := plainConfig(srv)
	cfg.TLS = TLSImplicit
	cfg.TLSConfig = clientTLS
	cfg.Username = testUser
	cfg.PasswordFile = writePassword(t, testPassword)
	if err := Send(testCtx(t), cfg, Message{To: "a@example.com", Subject: "tls", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	got := onlyMessage(t, srv)
	if !got.TLS || got.AuthUser != testUser {
		t.Errorf("TLS = %v, AuthUser = %q", got.TLS, got.AuthUser)
	}
}

func TestImplicitTLSAgainstPlainServer(t *testing.T) {
	srv := mailtest.Start(t)
	cfg := plainConfig(srv)
	cfg.TLS = TLSImplicit
	start := time.Now()
	err := Send(testCtx(t), cfg, Message{To: "a@example.com"})
	if err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Fatalf("err = %v, want a TLS handshake error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to fail", d)
	}
	expectNothingSent(t, srv)
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens on port now
	cfg := Config{Host: "127.0.0.1", Port: port, From: "noreply@roster.example", TLS: TLSNone, Timeout: 5 * time.Second}
	start := time.Now()
	err = Send(testCtx(t), cfg, Message{To: "a@example.com"})
	if err == nil || !strings.Contains(err.Error(), "connect to") {
		t.Fatalf("err = %v, want a connect error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to fail", d)
	}
}

// stallServer accepts connections and then never answers, optionally after
// sending the SMTP greeting, to check that Send gives up. It returns the
// port.
func stallServer(t *testing.T, greet bool) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			if greet {
				c.Write([]byte("220 localhost ESMTP stalling\r\n"))
			}
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		l.Close()
	})
	return l.Addr().(*net.TCPAddr).Port
}

func TestTimeout(t *testing.T) {
	for _, greet := range []bool{false, true} {
		name := map[bool]string{false: "no greeting", true: "no EHLO reply"}[greet]
		t.Run(name, func(t *testing.T) {
			port := stallServer(t, greet)
			cfg := Config{Host: "127.0.0.1", Port: port, From: "noreply@roster.example", TLS: TLSStartTLS, Timeout: 300 * time.Millisecond}
			start := time.Now()
			err := Send(testCtx(t), cfg, Message{To: "a@example.com"})
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 300ms") {
				t.Fatalf("err = %v, want a timeout", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v to time out", d)
			}
		})
	}
}

func TestImplicitTLSHandshakeTimeout(t *testing.T) {
	port := stallServer(t, false)
	cfg := Config{Host: "127.0.0.1", Port: port, From: "noreply@roster.example", TLS: TLSImplicit, Timeout: 300 * time.Millisecond}
	start := time.Now()
	err := Send(testCtx(t), cfg, Message{To: "a@example.com"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to time out", d)
	}
}

func TestContextDeadlineShorterThanTimeout(t *testing.T) {
	port := stallServer(t, true)
	ctx, cancel := context.WithTimeout(testCtx(t), 200*time.Millisecond)
	defer cancel()
	cfg := Config{Host: "127.0.0.1", Port: port, From: "noreply@roster.example", TLS: TLSNone} // default 30s timeout
	start := time.Now()
	err := Send(ctx, cfg, Message{To: "a@example.com"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to give up", d)
	}
}

func TestContextCancelled(t *testing.T) {
	port := stallServer(t, true)
	ctx, cancel := context.WithCancel(testCtx(t))
	time.AfterFunc(200*time.Millisecond, cancel)
	cfg := Config{Host: "127.0.0.1", Port: port, From: "noreply@roster.example", TLS: TLSNone}
	start := time.Now()
	err := Send(ctx, cfg, Message{To: "a@example.com"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to give up", d)
	}
}

func TestContextAlreadyCancelled(t *testing.T) {
	srv := mailtest.Start(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	err := Send(ctx, plainConfig(srv), Message{To: "a@example.com"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
	expectNothingSent(t, srv)
}

func TestRedact(t *testing.T) {
	blob := base64.StdEncoding.EncodeToString([]byte("\x00roster\x00s3cret"))
	base := fmt.Errorf("535 bad credentials %s for %s", blob, "s3cret")
	err := redact(base, "roster", "s3cret")
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), blob) {
		t.Errorf("redact left the secret: %v", err)
	}
	if errors.Is(err, base) {
		t.Error("redacted error still unwraps to the original")
	}
	clean := errors.New("connection refused")
	if redact(clean, "roster", "s3cret") != clean {
		t.Error("redact changed an error without secrets")
	}
}
