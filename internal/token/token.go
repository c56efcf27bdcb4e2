// Package token makes and parses roster's secrets: API tokens, invitation
// and reset links. A token is a type prefix, 32 random bytes and a
// checksum, so that secret scanners can spot one and a mistyped one is
// refused without a look-up; only its SHA-256 is ever stored.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
)

// Kind is the type of a token, written as its prefix.
type Kind string

// The kinds of token.
const (
	API        Kind = "roster_pat_"
	Invitation Kind = "roster_inv_"
	Reset      Kind = "roster_rst_"
	SignIn     Kind = "roster_sgn_" // a sign-in link mailed on request
	Session    Kind = "roster_ses_" // a browser session, kept in a cookie
	Device     Kind = "roster_dvc_" // a device code of roster login --web
)

var kinds = []Kind{API, Invitation, Reset, SignIn, Session, Device}

// enc is lower-case base32 without padding: unambiguous and URL-safe.
var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

const (
	secretLen   = 32
	bodyLen     = 52 // base32 of 32 bytes
	checksumLen = 7  // base32 of 4 bytes
)

// ErrMalformed means the text is not a token of the expected kind.
var ErrMalformed = errors.New("not a roster token")

// Hash is the stored form of a token.
type Hash [sha256.Size]byte

// New makes a token of kind k and returns it with its hash.
func New(k Kind) (string, Hash) {
	secret := make([]byte, secretLen)
	if _, err := rand.Read(secret); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	body := enc.EncodeToString(secret)
	tok := string(k) + body + checksum(k, body)
	return tok, Sum(tok)
}

// Sum is the hash of a token.
func Sum(tok string) Hash { return sha256.Sum256([]byte(tok)) }

func checksum(k Kind, body string) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc32.ChecksumIEEE([]byte(string(k)+body)))
	return enc.EncodeToString(b[:])
}

// Parse checks that s is a well-formed token of kind k (surrounding space
// is ignored) and returns its hash.
func Parse(k Kind, s string) (Hash, error) {
	s = strings.TrimSpace(s)
	body, ok := strings.CutPrefix(s, string(k))
	if !ok || len(body) != bodyLen+checksumLen {
		return Hash{}, ErrMalformed
	}
	if _, err := enc.DecodeString(body[:bodyLen]); err != nil {
		return Hash{}, ErrMalformed
	}
	if checksum(k, body[:bodyLen]) != body[bodyLen:] {
		return Hash{}, ErrMalformed
	}
	return Sum(s), nil
}

// KindOf returns the kind a token's prefix names, if any.
func KindOf(s string) (Kind, bool) {
	for _, k := range kinds {
		if strings.HasPrefix(strings.TrimSpace(s), string(k)) {
			return k, true
		}
	}
	return "", false
}
