package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// SCRAMHash names the hash function of a SCRAM mechanism.
type SCRAMHash int

const (
	// SHA1 is the hash of SCRAM-SHA-1 (RFC 5802).
	SHA1 SCRAMHash = iota + 1
	// SHA256 is the hash of SCRAM-SHA-256 (RFC 7677).
	SHA256
)

// String returns the hash name as used in mechanism names: "SHA-1", "SHA-256".
func (h SCRAMHash) String() string {
	switch h {
	case SHA1:
		return "SHA-1"
	case SHA256:
		return "SHA-256"
	}
	return "SCRAMHash(" + strconv.Itoa(int(h)) + ")"
}

// New returns a new hash.Hash of h. It panics for an invalid SCRAMHash.
func (h SCRAMHash) New() hash.Hash {
	switch h {
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	}
	panic("sasl: invalid SCRAMHash " + strconv.Itoa(int(h)))
}

// Size returns the output size of h in bytes.
func (h SCRAMHash) Size() int {
	switch h {
	case SHA1:
		return sha1.Size
	case SHA256:
		return sha256.Size
	}
	return 0
}

func (h SCRAMHash) valid() bool { return h == SHA1 || h == SHA256 }

// SCRAMKeys is what a server stores for a SCRAM user instead of the password
// (RFC 5802 §2.2, §3).
type SCRAMKeys struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte // H(ClientKey)
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
}

// Default parameters for NewSCRAMKeys.
const (
	// DefaultSCRAMIterations is the iteration count NewSCRAMKeys uses when
	// given 0. RFC 7677 §4 asks for at least 4096; clients of this package
	// accept up to 1,000,000 by default.
	DefaultSCRAMIterations = 4096
	// DefaultSaltLen is the length of the random salt NewSCRAMKeys makes
	// when given none.
	DefaultSaltLen = 16
)

// NewSCRAMKeys derives the stored SCRAM keys for a password (provisioning).
// The password is prepared with SASLprep as a stored string (RFC 4013, RFC
// 5802 §2.2); a nil salt is replaced by DefaultSaltLen random bytes and
// iter 0 by DefaultSCRAMIterations.
func NewSCRAMKeys(h SCRAMHash, password string, salt []byte, iter int) (SCRAMKeys, error) {
	if !h.valid() {
		return SCRAMKeys{}, fmt.Errorf("sasl: invalid SCRAM hash %v", h)
	}
	if iter == 0 {
		iter = DefaultSCRAMIterations
	}
	if iter < 1 {
		return SCRAMKeys{}, errors.New("sasl: SCRAM iteration count must be positive")
	}
	p, err := SASLprep(password)
	if err != nil {
		return SCRAMKeys{}, err
	}
	if p == "" {
		return SCRAMKeys{}, errors.New("sasl: empty password")
	}
	if salt == nil {
		salt = make([]byte, DefaultSaltLen)
		rand.Read(salt)
	}
	salted, err := saltedPassword(h, p, salt, iter)
	if err != nil {
		return SCRAMKeys{}, err
	}
	k := SCRAMKeys{Salt: append([]byte(nil), salt...), Iterations: iter}
	k.StoredKey, k.ServerKey = keysFromSalted(h, salted)
	return k, nil
}

// saltedPassword is Hi(Normalize(password), salt, i) (RFC 5802 §2.2): PBKDF2
// with HMAC-H and one block of output.
func saltedPassword(h SCRAMHash, prepared string, salt []byte, iter int) ([]byte, error) {
	return pbkdf2.Key(h.New, prepared, salt, iter, h.Size())
}

func hmacSum(h SCRAMHash, key []byte, msg ...[]byte) []byte {
	m := hmac.New(h.New, key)
	for _, p := range msg {
		m.Write(p)
	}
	return m.Sum(nil)
}

func hashSum(h SCRAMHash, b []byte) []byte {
	d := h.New()
	d.Write(b)
	return d.Sum(nil)
}

// keysFromSalted returns StoredKey and ServerKey (RFC 5802 §3).
func keysFromSalted(h SCRAMHash, salted []byte) (storedKey, serverKey []byte) {
	clientKey := hmacSum(h, salted, []byte("Client Key"))
	return hashSum(h, clientKey), hmacSum(h, salted, []byte("Server Key"))
}

// Hash returns the hash the keys were made with, judged by their length;
// 0 when the keys are malformed.
func (k SCRAMKeys) Hash() SCRAMHash {
	switch {
	case len(k.StoredKey) == sha1.Size && len(k.ServerKey) == sha1.Size:
		return SHA1
	case len(k.StoredKey) == sha256.Size && len(k.ServerKey) == sha256.Size:
		return SHA256
	}
	return 0
}

// String encodes k in the RFC 5803 form (the LDAP userPassword scheme),
// "SCRAM-SHA-256$<iter>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>",
// which is safe to store: it does not reveal the password.
func (k SCRAMKeys) String() string {
	e := base64.StdEncoding
	return "SCRAM-" + k.Hash().String() + "$" + strconv.Itoa(k.Iterations) + ":" + e.EncodeToString(k.Salt) + "$" +
		e.EncodeToString(k.StoredKey) + ":" + e.EncodeToString(k.ServerKey)
}

// ParseSCRAMKeys parses the RFC 5803 form written by SCRAMKeys.String. The
// "SCRAM-SHA-1$" or "SCRAM-SHA-256$" prefix must match the key length.
func ParseSCRAMKeys(s string) (SCRAMKeys, error) {
	bad := errors.New("sasl: malformed SCRAM keys")
	scheme, s, ok := strings.Cut(s, "$")
	if !ok {
		return SCRAMKeys{}, bad
	}
	left, right, ok := strings.Cut(s, "$")
	if !ok {
		return SCRAMKeys{}, bad
	}
	it, salt, ok1 := strings.Cut(left, ":")
	sk, svk, ok2 := strings.Cut(right, ":")
	if !ok1 || !ok2 {
		return SCRAMKeys{}, bad
	}
	var k SCRAMKeys
	var err error
	if k.Iterations, err = strconv.Atoi(it); err != nil || k.Iterations < 1 {
		return SCRAMKeys{}, bad
	}
	e := base64.StdEncoding
	if k.Salt, err = e.DecodeString(salt); err != nil || len(k.Salt) == 0 {
		return SCRAMKeys{}, bad
	}
	if k.StoredKey, err = e.DecodeString(sk); err != nil {
		return SCRAMKeys{}, bad
	}
	if k.ServerKey, err = e.DecodeString(svk); err != nil {
		return SCRAMKeys{}, bad
	}
	if h := k.Hash(); h == 0 || !strings.EqualFold(scheme, "SCRAM-"+h.String()) {
		return SCRAMKeys{}, bad
	}
	return k, nil
}
