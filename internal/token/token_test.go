package token

import (
	"errors"
	"strings"
	"testing"
)

func TestNewParse(t *testing.T) {
	for _, k := range kinds {
		tok, h := New(k)
		if !strings.HasPrefix(tok, string(k)) || len(tok) != len(k)+bodyLen+checksumLen {
			t.Fatalf("New(%s) = %q", k, tok)
		}
		got, err := Parse(k, " "+tok+"\n")
		if err != nil || got != h {
			t.Fatalf("Parse(New(%s)) = %x, %v; want %x", k, got, err, h)
		}
		if kind, ok := KindOf(tok); !ok || kind != k {
			t.Fatalf("KindOf(%q) = %q, %v", tok, kind, ok)
		}
	}
	a, _ := New(API)
	b, _ := New(API)
	if a == b {
		t.Fatal("two tokens are equal")
	}
}

func TestParseRejects(t *testing.T) {
	tok, _ := New(Invitation)
	flip := []byte(tok)
	i := len(Invitation) + 3
	if flip[i] == 'a' {
		flip[i] = 'b'
	} else {
		flip[i] = 'a'
	}
	for name, s := range map[string]string{
		"empty":        "",
		"other kind":   strings.Replace(tok, string(Invitation), string(Reset), 1),
		"typo":         string(flip),
		"short":        tok[:len(tok)-1],
		"long":         tok + "a",
		"bad alphabet": tok[:len(Invitation)] + strings.Repeat("1", bodyLen+checksumLen),
	} {
		if _, err := Parse(Invitation, s); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse(%q) = %v; want ErrMalformed", name, s, err)
		}
	}
}
