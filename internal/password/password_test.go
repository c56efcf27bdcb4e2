package password

import (
	"errors"
	"strings"
	"testing"
	"time"

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

// Hashes made by other tools, for "correct horse battery": the argon2 CLI
// (echo -n … | argon2 somesaltsomesalt -id -v 13|10 -t 2 -m 12 -p 1 -e)
// and htpasswd -nbB -C 4.
const (
	argon2CLI    = "$argon2id$v=19$m=4096,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$rH1Ybulj29NGEEGtGp+nrIox7PycWy6oL06PCmfvSNI"
	argon2CLIv16 = "$argon2id$v=16$m=4096,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$7wJcTtHddd4SWP+nqjMMis/QW9+wcE7+SedDy6axpvU"
	htpasswdB4   = "$2y$04$Jf9Xu0KBm6Qas/3xgtH9eOH9uKLV6MVJfKyub4T.BAe0dgBGyASrC"
)

func TestOtherToolsHashes(t *testing.T) {
	for _, h := range []string{argon2CLI, htpasswdB4} {
		if err := CheckHash(h); err != nil {
			t.Errorf("CheckHash(%.20s…) = %v", h, err)
		}
		if ok, rehash := Verify(h, "correct horse battery"); !ok || !rehash {
			t.Errorf("Verify(%.20s…) = %v, %v; want true, true", h, ok, rehash)
		}
	}
}

// TestCheckHashSays: a refused hash is refused for what it is, in words
// that say what roster takes (issue 22: a v=16 hash was called "neither
// an argon2id PHC string nor a bcrypt hash").
func TestCheckHashSays(t *testing.T) {
	cost := func(c string) string { return strings.Replace(htpasswdB4, "$04$", "$"+c+"$", 1) }
	for _, tt := range []struct{ hash, want string }{
		{argon2CLIv16, "password_hash is an argon2id hash of version 16 (v=16, Argon2 1.0); roster verifies version 19 (v=19, Argon2 1.3) only"},
		// No version at all is Argon2 1.0 too, by the PHC format.
		{"$argon2id$m=4096,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$7wJcTtHddd4SWP+nqjMMis/QW9+wcE7+SedDy6axpvU", "version 16"},
		{strings.Replace(argon2CLI, "argon2id", "argon2i", 1), "password_hash is an argon2i hash; roster verifies argon2id and bcrypt hashes only"},
		{cost("15"), "password_hash is a bcrypt hash of cost 15; roster accepts costs up to 14"},
		{cost("31"), "cost 31"},
		{strings.Replace(argon2CLI, "m=4096,t=2", "m=262144,t=16", 1), "argon2id parameters out of range"},
		{"$2y$04$short", "not a valid bcrypt hash"},
		{"plain", "neither an argon2id PHC string nor a bcrypt hash"},
	} {
		err := CheckHash(tt.hash)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckHash(%.24s…) = %v; want %q", tt.hash, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), tt.hash) {
			t.Errorf("CheckHash's message quotes the hash: %v", err)
		}
	}
	if err := CheckHash(cost("14")); err != nil {
		t.Errorf("cost 14: %v", err)
	}
}

// TestVerifyRefusesCostlyHashes: a hash over the bounds, however it came
// into the store, is not run: cost 31 would take days. The deadline only
// guards against a hang; nothing is measured.
func TestVerifyRefusesCostlyHashes(t *testing.T) {
	for _, h := range []string{
		strings.Replace(htpasswdB4, "$04$", "$31$", 1),
		strings.Replace(argon2CLI, "m=4096,t=2", "m=262144,t=4000", 1),
		strings.Replace(argon2CLI, "m=4096,t=2,p=1", "m=4096,t=2,p=255", 1),
	} {
		done := make(chan bool, 1)
		go func() {
			ok, _ := Verify(h, "correct horse battery")
			done <- ok
		}()
		select {
		case ok := <-done:
			if ok {
				t.Errorf("Verify(%.24s…) = true", h)
			}
		case <-time.After(time.Minute):
			t.Fatalf("Verify(%.24s…) ran the hash", h)
		}
	}
}
