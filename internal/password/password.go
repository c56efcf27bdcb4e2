// Package password hashes, verifies, checks and generates passwords.
package password

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/roster-dev/roster/internal/roster"
)

// Params are argon2id parameters; Default is DESIGN.md's choice.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen int
	KeyLen  uint32
}

// Profiles are OWASP's argon2id profiles of equal strength (DESIGN.md,
// Security): less memory bought with more passes.
var Profiles = map[string]Params{
	"m19456t2": {Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32},
	"m12288t3": {Memory: 12288, Time: 3, Threads: 1, SaltLen: 16, KeyLen: 32},
	"m9216t4":  {Memory: 9216, Time: 4, Threads: 1, SaltLen: 16, KeyLen: 32},
	"m7168t5":  {Memory: 7168, Time: 5, Threads: 1, SaltLen: 16, KeyLen: 32},
}

// profile names the profile new hashes use. A benchmark builds roster
// with -ldflags -X to measure another; docs/benchmarks.md has the table
// it was chosen from.
var profile = "m7168t5"

// Default are the parameters new hashes use.
var Default = Profiles[profile]

func init() {
	if Default.Memory == 0 {
		panic("password: no argon2id profile " + profile)
	}
}

// MaxLength is the longest password accepted, in characters.
const MaxLength = 256

// Hash returns the PHC string of an argon2id hash of pw.
func Hash(pw string) (string, error) { return hashWith(Default, pw) }

func hashWith(p Params, pw string) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read random salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether pw matches the PHC string, comparing in constant
// time, and whether the hash should be replaced because the parameters
// changed since it was made.
//
// A bcrypt hash ($2a$, $2b$, $2y$), imported from another system, is
// verified too and always asks for a rehash: roster stores argon2id.
//
// A hash over the bounds CheckHash sets (a bcrypt cost over 14, argon2id
// parameters out of range), however it came into the store, is never
// run: it verifies nothing, so that no sign-in attempt, a wrong password
// included, makes the server hash for seconds or days.
func Verify(phc, pw string) (ok, rehash bool) {
	if isBcrypt(phc) {
		if cost, err := bcrypt.Cost([]byte(phc)); err != nil || cost > MaxBcryptCost {
			return false, false
		}
		return bcrypt.CompareHashAndPassword([]byte(phc), []byte(pw)) == nil, true
	}
	p, salt, key, err := parse(phc)
	if err != nil || tooCostly(p) {
		return false, false
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	ok = subtle.ConstantTimeCompare(got, key) == 1
	rehash = p.Memory != Default.Memory || p.Time != Default.Time || p.Threads != Default.Threads ||
		len(salt) != Default.SaltLen || uint32(len(key)) != Default.KeyLen
	return ok, rehash
}

// VerifyNone spends the time of one verification, so that a sign-in for an
// unknown account takes as long as one for a known account.
func VerifyNone(pw string) {
	argon2.IDKey([]byte(pw), make([]byte, Default.SaltLen), Default.Time, Default.Memory, Default.Threads, Default.KeyLen)
}

func isBcrypt(h string) bool {
	return strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")
}

// MaxBcryptCost is the highest bcrypt cost an imported hash may have.
// Every sign-in attempt runs the hash, wrong passwords included: OWASP
// recommends 10 to 12, each step doubles the time, and cost 14 already
// takes about a second.
const MaxBcryptCost = 14

// CheckHash reports whether h is a hash roster can verify: an argon2id
// PHC string of version 19 or a bcrypt hash, with a cost that bounds
// what each sign-in attempt costs. Import takes these from other
// systems; the message never quotes the hash.
func CheckHash(h string) error {
	if isBcrypt(h) {
		cost, err := bcrypt.Cost([]byte(h))
		if err != nil || len(h) != 60 {
			return roster.Errorf(roster.ErrInvalid, "password_hash is not a valid bcrypt hash")
		}
		if cost > MaxBcryptCost {
			return roster.Errorf(roster.ErrInvalid, "password_hash is a bcrypt hash of cost %d; roster accepts costs up to %d", cost, MaxBcryptCost).
				WithHint("every sign-in attempt, a wrong password too, would hash at that cost (each step doubles the time); leave password_hash empty and have the user set a password")
		}
		return nil
	}
	if v, ok := argon2idVersion(h); ok && v != argon2.Version {
		return roster.Errorf(roster.ErrInvalid, "password_hash is an argon2id hash of version %d (v=%d, Argon2 1.0); roster verifies version %d (v=%d, Argon2 1.3) only", v, v, argon2.Version, argon2.Version).
			WithHint("leave password_hash empty and have the user set a password, or rehash with a current argon2 library")
	}
	p, salt, _, err := parse(h)
	if err != nil {
		if alg, _, ok := strings.Cut(strings.TrimPrefix(h, "$"), "$"); ok && strings.HasPrefix(h, "$argon2") && alg != "argon2id" {
			return roster.Errorf(roster.ErrInvalid, "password_hash is an %s hash; roster verifies argon2id and bcrypt hashes only", alg)
		}
		return roster.Errorf(roster.ErrInvalid, "password_hash is neither an argon2id PHC string nor a bcrypt hash ($2a$, $2b$, $2y$)")
	}
	// Every sign-in runs the hash once: parameters from elsewhere must not
	// make that cost a gigabyte or a minute.
	if p.Memory < 1024 || p.Time < 1 || p.Threads < 1 || tooCostly(p) || len(salt) < 8 || p.KeyLen < 16 {
		return roster.Errorf(roster.ErrInvalid, "password_hash has argon2id parameters out of range").
			WithHint("m from 1024 to %d KiB, t from 1 to 16, m×t at most %d, p from 1 to 16, a salt of 8 bytes or more, a key of 16 to 64 bytes", maxImportMemory, maxImportWork)
	}
	return nil
}

// maxImportMemory bounds the argon2id memory of an imported hash, in KiB.
const maxImportMemory = 256 << 10

// maxImportWork bounds memory × passes (KiB): 256 MiB four times, or
// PHP's default (64 MiB, t=4) four times over, a few seconds of one core
// at most, as bcrypt's cost 14 is.
const maxImportWork = 4 * maxImportMemory

// tooCostly reports whether argon2id parameters would make one
// verification cost more than the bounds allow.
func tooCostly(p Params) bool {
	return p.Memory > maxImportMemory || p.Time > 16 || p.Threads > 16 || uint64(p.Memory)*uint64(p.Time) > maxImportWork || p.KeyLen > 64
}

// argon2idVersion reads the version of an argon2id PHC string: v=N, or
// 16 when the string has none, as the PHC format says of Argon2 1.0.
func argon2idVersion(h string) (int, bool) {
	parts := strings.Split(h, "$")
	if len(parts) < 2 || parts[0] != "" || parts[1] != "argon2id" {
		return 0, false
	}
	if len(parts) == 5 && strings.HasPrefix(parts[2], "m=") {
		return 0x10, true
	}
	if len(parts) != 6 {
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimPrefix(parts[2], "v="))
	if err != nil || !strings.HasPrefix(parts[2], "v=") {
		return 0, false
	}
	return v, true
}

func parse(phc string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("not an argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("bad argon2 parameters: %w", err)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, fmt.Errorf("bad salt: %w", err)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) == 0 {
		return p, nil, nil, fmt.Errorf("bad key")
	}
	p.SaltLen = len(salt)
	p.KeyLen = uint32(len(key))
	return p, salt, key, nil
}

//go:embed common.txt
var commonText string

var common = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 256)
	sc := bufio.NewScanner(strings.NewReader(commonText))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			m[line] = struct{}{}
		}
	}
	return m
})

// IsCommon reports whether pw is on the built-in list of common passwords.
func IsCommon(pw string) bool {
	_, ok := common()[strings.ToLower(pw)]
	return ok
}

// Check applies R10: length in characters between minLen and MaxLength,
// not a common password, not the account's email.
func Check(pw, email string, minLen int) error {
	n := utf8.RuneCountInString(pw)
	hint := fmt.Sprintf("choose a password of %d to %d characters that is not a common word or your email", minLen, MaxLength)
	switch {
	case !utf8.ValidString(pw):
		return roster.Errorf(roster.ErrInvalid, "password is not valid UTF-8").WithHint("%s", hint)
	case n < minLen:
		return roster.Errorf(roster.ErrInvalid, "password too short: %d characters, at least %d needed", n, minLen).WithHint("%s", hint)
	case n > MaxLength:
		return roster.Errorf(roster.ErrInvalid, "password too long: %d characters, at most %d allowed", n, MaxLength).WithHint("%s", hint)
	case IsCommon(pw):
		return roster.Errorf(roster.ErrInvalid, "password is too common").WithHint("%s", hint)
	case email != "" && strings.EqualFold(pw, email):
		return roster.Errorf(roster.ErrInvalid, "password must not be the email address").WithHint("%s", hint)
	}
	return nil
}

// Generate returns a random password: 26 base32 characters, 128 bits.
func Generate() string { return rand.Text() }
