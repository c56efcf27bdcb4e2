package mailtest

import (
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func send(t *testing.T, s *Server, to, msg string) {
	t.Helper()
	// net/smtp is enough to drive the server here; it never blocks long
	// because the server answers at once.
	if err := smtp.SendMail(s.Addr, nil, "from@example.com", []string{to}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func TestServer(t *testing.T) {
	s, err := StartServer()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Host != "127.0.0.1" || s.Port == 0 {
		t.Fatalf("Host, Port = %q, %d", s.Host, s.Port)
	}
	send(t, s, "one@example.com", "Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Transfer-Encoding: base64\r\n\r\naMOpbGxvCg==\r\n")
	send(t, s, "two@example.com", "Subject: second\r\n\r\nplain\r\nbody\r\n")

	msgs := s.Messages()
	if len(msgs) != 2 {
		t.Fatalf("got %d messages", len(msgs))
	}
	if m := msgs[0]; m.From != "from@example.com" || m.To[0] != "one@example.com" || m.Subject != "café" || m.Body != "héllo\n" {
		t.Errorf("first message = %+v", m)
	}
	if m := msgs[1]; m.Subject != "second" || m.Body != "plain\nbody\n" {
		t.Errorf("second message = %+v", m)
	}

	// Messages returns copies.
	msgs[0].To[0] = "changed"
	msgs[0].Header["Subject"][0] = "changed"
	if m := s.Messages()[0]; m.To[0] != "one@example.com" || m.Header.Get("Subject") == "changed" {
		t.Error("Messages shares state with the server")
	}

	dir := filepath.Join(t.TempDir(), "out")
	if err := s.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		b, err := os.ReadFile(filepath.Join(dir, []string{"1.eml", "2.eml"}[i]))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != s.Messages()[i].Data || !strings.Contains(string(b), "\r\n") {
			t.Errorf("%d.eml = %q, want %q", i+1, b, m.Data)
		}
	}

	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := smtp.SendMail(s.Addr, nil, "a@example.com", []string{"b@example.com"}, []byte("x")); err == nil {
		t.Error("server still accepts mail after Close")
	}
}

func TestRequiredAuth(t *testing.T) {
	s := StartWith(t, Options{Username: "u", Password: "p"})
	msg := []byte("Subject: x\r\n\r\ny\r\n")
	if err := smtp.SendMail(s.Addr, nil, "a@example.com", []string{"b@example.com"}, msg); err == nil {
		t.Error("unauthenticated mail accepted")
	}
	if err := smtp.SendMail(s.Addr, smtp.PlainAuth("", "u", "wrong", "127.0.0.1"), "a@example.com", []string{"b@example.com"}, msg); err == nil {
		t.Error("wrong password accepted")
	}
	if err := smtp.SendMail(s.Addr, smtp.PlainAuth("", "u", "p", "127.0.0.1"), "a@example.com", []string{"b@example.com"}, msg); err != nil {
		t.Fatal(err)
	}
	if m := s.Messages(); len(m) != 1 || m[0].AuthUser != "u" {
		t.Errorf("messages = %+v", m)
	}
}
