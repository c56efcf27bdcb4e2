// Package mailtest runs an in-process SMTP server on 127.0.0.1 that keeps
// every message it receives, for tests of code that sends mail.
//
// It is a non-test package so that other packages' tests, and testscript
// commands, can use it; it is only ever linked into test binaries.
package mailtest

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message as the server got it.
type Received struct {
	From     string         // envelope sender (MAIL FROM)
	To       []string       // envelope recipients (RCPT TO)
	AuthUser string         // username the client authenticated as, if any
	TLS      bool           // the connection was encrypted (STARTTLS or implicit TLS)
	Data     string         // raw message, CRLF line endings as sent
	Header   netmail.Header // parsed header; nil if the message did not parse
	Subject  string         // decoded Subject header
	Body     string         // decoded text body, with \n line endings
}

// Options changes how the server behaves. The zero value is a plain server
// that offers AUTH PLAIN and accepts any credentials.
type Options struct {
	// Addr to listen on; "" means 127.0.0.1:0.
	Addr string
	// TLSConfig, if set, makes the server offer STARTTLS with it.
	TLSConfig *tls.Config
	// ImplicitTLS serves TLS from the first byte (like port 465); it needs
	// TLSConfig and then does not offer STARTTLS.
	ImplicitTLS bool
	// Username and Password, if Username is set, are the only credentials
	// accepted, and mail is refused until the client authenticates.
	Username, Password string
}

// Server is an SMTP server on 127.0.0.1 for tests; it keeps what it receives.
type Server struct {
	Addr string // host:port to connect to
	Host string // always an IP address, e.g. 127.0.0.1
	Port int

	opts Options
	srv  *smtp.Server
	ln   net.Listener
	done chan struct{} // closed when Serve returns

	mu       sync.Mutex
	messages []Received
	sessions int // connections accepted
	closed   bool
}

// Start starts a plain server (no TLS) on 127.0.0.1:0 that accepts any
// sender, recipient and credentials. It stops when tb's test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartWith(tb, Options{})
}

// StartWith is Start with options. It stops when tb's test ends.
func StartWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := StartServerWith(opts)
	if err != nil {
		tb.Fatalf("mailtest: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// StartServer starts a plain server like Start, for use outside a test
// (e.g. a testscript command). The caller must Close it.
func StartServer() (*Server, error) {
	return StartServerWith(Options{})
}

// StartServerWith is StartServer with options. The caller must Close it.
func StartServerWith(opts Options) (*Server, error) {
	if opts.ImplicitTLS && opts.TLSConfig == nil {
		return nil, errors.New("ImplicitTLS needs a TLSConfig")
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	tcpAddr := l.Addr().(*net.TCPAddr)
	s := &Server{
		Addr: tcpAddr.String(),
		Host: tcpAddr.IP.String(),
		Port: tcpAddr.Port,
		opts: opts,
		done: make(chan struct{}),
	}

	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	// Bound every read and write so a misbehaving client cannot leave a
	// handler goroutine blocked past the test.
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	// Connection errors are expected in tests that cut connections; logging
	// them to stderr (or to tb after the test ended) would only add noise.
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if opts.ImplicitTLS {
		l = tls.NewListener(l, opts.TLSConfig)
	} else {
		srv.TLSConfig = opts.TLSConfig // non-nil makes go-smtp offer STARTTLS
	}
	s.srv = srv
	s.ln = l

	go func() {
		defer close(s.done)
		srv.Serve(l)
	}()
	return s, nil
}

// Close stops the server and closes open connections. It is safe to call
// more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	err := s.srv.Close()
	// go-smtp only learns of the listener once Serve runs; if Close comes
	// first, its Close misses it and Serve would block in Accept forever.
	s.ln.Close()
	<-s.done
	return err
}

// Messages returns copies of the received messages, in arrival order.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.messages))
	for i, m := range s.messages {
		out[i] = m.clone()
	}
	return out
}

// WriteDir writes each received message, raw, as dir/N.eml (1-based, in
// arrival order), creating dir if needed. (It is not named WriteTo, which
// go vet reserves for io.WriterTo.)
func (s *Server) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, m := range s.Messages() {
		name := filepath.Join(dir, strconv.Itoa(i+1)+".eml")
		if err := os.WriteFile(name, []byte(m.Data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) add(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, r)
}

func (r Received) clone() Received {
	r.To = append([]string(nil), r.To...)
	if r.Header != nil {
		h := make(netmail.Header, len(r.Header))
		for k, v := range r.Header {
			h[k] = append([]string(nil), v...)
		}
		r.Header = h
	}
	return r
}

// backend makes one session per connection.
type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.s.mu.Lock()
	b.s.sessions++
	b.s.mu.Unlock()
	return &session{s: b.s, conn: c}, nil
}

// Sessions returns how many SMTP connections the server has accepted,
// whether or not any delivered a message: a server that must be left
// alone shows 0.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// session collects one connection's transaction(s).
type session struct {
	s        *Server
	conn     *smtp.Conn
	authUser string
	from     string
	to       []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		want := ss.s.opts
		if want.Username != "" && (username != want.Username || password != want.Password) {
			return smtp.ErrAuthFailed
		}
		ss.authUser = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && ss.authUser == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec := Received{
		From:     ss.from,
		To:       append([]string(nil), ss.to...),
		AuthUser: ss.authUser,
		Data:     string(raw),
	}
	_, rec.TLS = ss.conn.TLSConnectionState()
	decode(&rec)
	ss.s.add(rec)
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }

// decode fills Header, Subject and Body from Data as far as it can; a
// message it cannot parse keeps its raw Data only.
func decode(r *Received) {
	msg, err := netmail.ReadMessage(strings.NewReader(r.Data))
	if err != nil {
		return
	}
	r.Header = msg.Header
	subj := msg.Header.Get("Subject")
	if dec, err := new(mime.WordDecoder).DecodeHeader(subj); err == nil {
		subj = dec
	}
	r.Subject = subj

	var body io.Reader = msg.Body
	switch strings.ToLower(strings.TrimSpace(msg.Header.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		// The decoder skips the CRLFs between base64 lines.
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return
	}
	r.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
}
