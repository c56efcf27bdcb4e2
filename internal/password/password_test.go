package password

import (
	"errors"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
)

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=7168,t=5,p=1$") {
		t.Fatalf("hash %q lacks the PHC prefix of the default parameters", h)
	}
	if ok, rehash := Verify(h, "correct horse battery"); !ok || rehash {
		t.Fatalf("Verify(right) = %v, %v; want true, false", ok, rehash)
	}
	if ok, _ := Verify(h, "correct horse batterY"); ok {
		t.Fatal("Verify(wrong) = true")
	}
	h2, _ := Hash("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

// TestEveryProfileVerifies: hashes made under any OWASP profile, the
// previous default among them, verify, and ask to be rehashed to the
// current one.
func TestEveryProfileVerifies(t *testing.T) {
	for name, p := range Profiles {
		h, err := hashWith(p, "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		ok, rehash := Verify(h, "correct horse battery")
		if !ok || rehash != (name != profile) {
			t.Errorf("%s: Verify = %v, %v; want true, %v", name, ok, rehash, name != profile)
		}
	}
}

func TestVerifyAsksRehashForOldParams(t *testing.T) {
	old := Default
	old.Time = 1
	h, err := hashWith(old, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash := Verify(h, "correct horse battery"); !ok || !rehash {
		t.Fatalf("Verify = %v, %v; want true, true", ok, rehash)
	}
}

func TestVerifyRejectsGarbage(t *testing.T) {
	for _, h := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=x$AA$AA", "$argon2id$v=19$m=8,t=1,p=1$!!$AA"} {
		if ok, _ := Verify(h, "x"); ok {
			t.Errorf("Verify(%q) = true", h)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		pw    string
		email string
		min   int
		ok    bool
	}{
		{"tr0ub4dor&3x", "a@b.co", 8, true},
		{"short", "", 8, false},
		{"ééééééé", "", 8, false}, // 7 characters, 14 bytes
		{"éééééééé", "", 8, true}, // 8 characters
		{"PassWord123", "", 8, false},
		{"alice@example.com", "ALICE@example.com", 8, false},
		{strings.Repeat("x", 257), "", 8, false},
		{strings.Repeat("xy", 128), "", 8, true},
		{"abcdefghij", "", 12, false},
	}
	for _, tt := range tests {
		err := Check(tt.pw, tt.email, tt.min)
		if (err == nil) != tt.ok {
			t.Errorf("Check(%q, %q, %d) = %v; want ok=%v", tt.pw, tt.email, tt.min, err, tt.ok)
		}
		if err != nil && !errors.Is(err, roster.ErrInvalid) {
			t.Errorf("Check(%q) error %v is not ErrInvalid", tt.pw, err)
		}
	}
}

func TestGenerate(t *testing.T) {
	a, b := Generate(), Generate()
	if a == b || len(a) < 20 {
		t.Fatalf("Generate gave %q and %q", a, b)
	}
	if err := Check(a, "", 8); err != nil {
		t.Fatalf("generated password fails the policy: %v", err)
	}
}

func BenchmarkHash(b *testing.B) {
	for b.Loop() {
		if _, err := Hash("a-fine-long-passphrase"); err != nil {
			b.Fatal(err)
		}
	}
}
