// Package mail sends roster's plain-text emails (invitations, password
// resets) over SMTP using only the standard library.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is mail delivery from roster's settings.
type Config struct {
	Host         string        // SMTP host; empty means mail is not configured
	Port         int           // e.g. 587, 465, 25; 0 means the usual port for TLS (465, 587 or 25)
	From         string        // sender address
	Username     string        // optional; auth only when set
	PasswordFile string        // file holding the SMTP password (trailing newline trimmed); read at send time
	Password     string        // the SMTP password itself; when set, PasswordFile is not read
	TLS          string        // "none", "starttls" (require STARTTLS), or "tls" (implicit TLS, e.g. port 465); "" means "tls" on port 465, else "starttls"
	Timeout      time.Duration // whole-send deadline; 0 means 30s
	TLSConfig    *tls.Config   // optional, for tests (e.g. trusting a test CA); nil means system roots with ServerName = Host
}

// Message is one plain-text message to one recipient.
type Message struct {
	To      string
	Subject string
	Body    string // plain text, lines separated by \n
}

// ErrNotConfigured is returned by Send when Host or From is empty.
var ErrNotConfigured = errors.New("mail is not configured")

// TLS modes accepted in Config.TLS.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
)

// DefaultTimeout bounds a whole send when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// aLongTimeAgo is a deadline in the past: setting it on a connection makes
// every pending and future read or write fail at once, which is how a
// cancelled context interrupts net/smtp (it has no context support).
var aLongTimeAgo = time.Unix(1, 0)

// Send delivers m. It honours ctx cancellation and cfg.Timeout (dial and whole conversation).
func Send(ctx context.Context, cfg Config, m Message) error {
	if cfg.Host == "" || cfg.From == "" {
		return ErrNotConfigured
	}
	// The recipient is quoted in errors so that a malicious To cannot forge
	// extra lines in logs.
	wrap := func(err error) error {
		return fmt.Errorf("send mail to %q: %w", m.To, err)
	}

	// Everything that can be checked locally is checked before dialling, so
	// a bad message or config never opens a connection.
	mode, port, err := resolveTransport(cfg)
	if err != nil {
		return wrap(err)
	}
	from, to, data, err := buildMessage(cfg.From, m, time.Now())
	if err != nil {
		return wrap(err)
	}
	var auth smtp.Auth
	var password string
	if cfg.Username != "" {
		password = cfg.Password
		if password == "" {
			if password, err = readPassword(cfg.PasswordFile); err != nil {
				return wrap(err)
			}
		}
		auth = smtp.PlainAuth("", cfg.Username, password, cfg.Host)
	}

	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout,
		fmt.Errorf("timed out after %s: %w", timeout, context.DeadlineExceeded))
	defer cancel()

	err = deliver(ctx, cfg, mode, port, timeout, auth, from, to, data)
	if err != nil {
		// An I/O error caused by our own deadline or cancellation says
		// little ("i/o timeout"); lead with the reason instead.
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w: %w", cause, err)
		}
		return redact(wrap(err), cfg.Username, password)
	}
	return nil
}

// resolveTransport validates the TLS mode and picks the port.
func resolveTransport(cfg Config) (mode string, port int, err error) {
	mode = strings.ToLower(strings.TrimSpace(cfg.TLS))
	if mode == "" {
		// Default to encryption: port 465 is implicit TLS by convention,
		// anything else is expected to offer STARTTLS.
		mode = TLSStartTLS
		if cfg.Port == 465 {
			mode = TLSImplicit
		}
	}
	port = cfg.Port
	switch mode {
	case TLSNone:
		if port == 0 {
			port = 25
		}
	case TLSStartTLS:
		if port == 0 {
			port = 587
		}
	case TLSImplicit:
		if port == 0 {
			port = 465
		}
	default:
		return "", 0, fmt.Errorf("unknown TLS mode %q (want %q, %q or %q)", cfg.TLS, TLSNone, TLSStartTLS, TLSImplicit)
	}
	if port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("invalid SMTP port %d", port)
	}
	return mode, port, nil
}

// readPassword reads the SMTP password file. Errors name the file but never
// include its contents.
func readPassword(path string) (string, error) {
	if path == "" {
		return "", errors.New("SMTP username is set but no password file is configured")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		// The *PathError from os carries only the path and the OS error.
		return "", fmt.Errorf("read SMTP password file: %w", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("SMTP password file %s is empty", path)
	}
	return pw, nil
}

// tlsConfig returns the client TLS settings for cfg.Host.
func tlsConfig(cfg Config) *tls.Config {
	var tc *tls.Config
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	return tc
}

// deliver runs the SMTP conversation. ctx carries the whole-send deadline.
func deliver(ctx context.Context, cfg Config, mode string, port int, timeout time.Duration, auth smtp.Auth, from, to string, data []byte) error {
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(port))
	dialer := net.Dialer{Timeout: timeout}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer conn.Close()

	// net/smtp knows nothing of contexts, so the context drives the
	// connection deadline: when ctx is cancelled or its deadline (which
	// includes cfg.Timeout) passes, every read and write fails at once.
	// Going through ctx rather than conn.SetDeadline(deadline) guarantees
	// ctx.Err is already set when the I/O fails, so Send can name the cause.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(aLongTimeAgo) })
	defer stop()

	if mode == TLSImplicit {
		tc := tls.Client(conn, tlsConfig(cfg))
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		conn = tc // closing the TLS conn closes the TCP conn too
		defer tc.Close()
	}

	// The host name given here is what PlainAuth checks the server against.
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		return fmt.Errorf("SMTP greeting from %s: %w", addr, err)
	}
	defer c.Close()

	if mode == TLSStartTLS {
		// Extension also performs EHLO.
		ok, _ := c.Extension("STARTTLS")
		if !ok {
			return fmt.Errorf("server %s does not offer STARTTLS (set TLS to %q to send unencrypted)", addr, TLSNone)
		}
		if err := c.StartTLS(tlsConfig(cfg)); err != nil {
			return fmt.Errorf("STARTTLS with %s: %w", addr, err)
		}
	}

	if auth != nil {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("server %s does not offer AUTH but a username is configured", addr)
		}
		if err := c.Auth(auth); err != nil {
			return fmt.Errorf("authenticate as %q: %w", cfg.Username, err)
		}
	}

	if err := c.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return fmt.Errorf("write message: %w", err)
	}
	// Close sends the final "." and waits for the server's acceptance.
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of data: %w", err)
	}
	// The server has accepted the message. A failing QUIT must not be
	// reported as a failed send, or callers would retry and deliver twice.
	_ = c.Quit()
	return nil
}

// buildMessage validates the addresses and subject and renders the message
// with CRLF line endings. It returns the envelope addresses too.
func buildMessage(fromHeader string, m Message, now time.Time) (from, to string, data []byte, err error) {
	// Header injection: a CR or LF would let the caller (or whoever
	// supplied the value) start new header lines such as Bcc.
	for _, f := range []struct{ name, value string }{
		{"From", fromHeader}, {"To", m.To}, {"Subject", m.Subject},
	} {
		if strings.ContainsAny(f.value, "\r\n") {
			return "", "", nil, fmt.Errorf("%s contains a line break", f.name)
		}
	}
	fromAddr, err := netmail.ParseAddress(fromHeader)
	if err != nil {
		return "", "", nil, fmt.Errorf("invalid From address %q: %w", fromHeader, err)
	}
	toAddr, err := netmail.ParseAddress(m.To)
	if err != nil {
		return "", "", nil, fmt.Errorf("invalid To address %q: %w", m.To, err)
	}

	id, err := messageID(fromAddr.Address)
	if err != nil {
		return "", "", nil, err
	}

	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	// Address.String re-renders the address, encoding a non-ASCII display
	// name per RFC 2047.
	header("From", fromAddr.String())
	header("To", toAddr.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", id)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	// Quoted-printable keeps every line short and 7-bit, so any body
	// survives relays that do not speak 8BITMIME.
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")

	body := m.Body
	if !strings.HasSuffix(body, "\n") {
		body += "\n" // a message should end with a line break
	}
	qp := quotedprintable.NewWriter(&b)
	// In text mode the writer turns \n (and \r\n) into CRLF.
	if _, err := qp.Write([]byte(body)); err != nil {
		return "", "", nil, err
	}
	if err := qp.Close(); err != nil {
		return "", "", nil, err
	}
	return fromAddr.Address, toAddr.Address, b.Bytes(), nil
}

// messageID returns a unique Message-ID in the sender's domain.
func messageID(fromAddress string) (string, error) {
	domain := "localhost"
	if i := strings.LastIndexByte(fromAddress, '@'); i >= 0 && i+1 < len(fromAddress) {
		domain = fromAddress[i+1:]
	}
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("message ID: %w", err)
	}
	return "<" + hex.EncodeToString(r[:]) + "@" + domain + ">", nil
}

// redact makes sure no form of the password reaches the caller, in case a
// server echoes the AUTH line in its error text. The redacted error does not
// unwrap, since the original would still hold the password.
func redact(err error, username, password string) error {
	if password == "" {
		return err
	}
	secrets := []string{
		password,
		base64.StdEncoding.EncodeToString([]byte("\x00" + username + "\x00" + password)),
	}
	msg := err.Error()
	leaked := false
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
			leaked = true
		}
	}
	if !leaked {
		return err
	}
	return errors.New(msg)
}
