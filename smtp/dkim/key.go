package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"strings"
)

// maxRSABits bounds the RSA keys this package verifies with, so that a key
// record built to be expensive stays cheap. RFC 8301 §3.2 asks verifiers to
// handle 1024 to 4096 bits.
const maxRSABits = 8192

// KeyRecord is a parsed DKIM public key record (RFC 6376 §3.6.1), the TXT
// record at selector._domainkey.domain.
type KeyRecord struct {
	// KeyType is the k= tag: "rsa" (the default) or "ed25519".
	KeyType string
	// Hashes is the h= tag: the hash algorithms the key may be used with;
	// nil means all.
	Hashes []string
	// Services is the s= tag; nil means "*" (all).
	Services []string
	// Testing is the y flag of t=: the domain is testing DKIM. RFC 6376
	// §3.6.1: verifiers must not treat such mail differently from
	// unsigned mail; the result is reported, not changed.
	Testing bool
	// Strict is the s flag of t=: the i= domain must equal d= exactly.
	Strict bool
	// Notes is the n= tag, for humans.
	Notes string
	// PublicKey is the key of p=: an *rsa.PublicKey or an
	// ed25519.PublicKey. It is nil when the key is revoked (empty p=).
	PublicKey crypto.PublicKey
}

// Revoked reports whether the record revokes its key (an empty p=).
func (k *KeyRecord) Revoked() bool { return k.PublicKey == nil }

// ParseKeyRecord parses a key record. Unknown tags and flags are ignored
// as §3.6.1 requires; an unknown key type is an error wrapping
// [ErrUnsupported]; an RSA key shorter than 1024 bits one wrapping
// [ErrKeyTooSmall] (RFC 8301 §3.2).
func ParseKeyRecord(s string) (*KeyRecord, error) {
	tags, err := parseTagList(s)
	if err != nil {
		return nil, fmt.Errorf("%w: key record: %v", ErrSyntax, err)
	}
	// §3.6.1 "v=": if present, it must be the first tag and be "DKIM1".
	if v, ok := tags.get("v"); ok && (tags[0].name != "v" || v != "DKIM1") {
		return nil, syntaxErr("key record version %q", clip(v))
	}
	k := &KeyRecord{KeyType: "rsa"}
	if kt, ok := tags.get("k"); ok {
		k.KeyType = kt
	}
	if h, ok := tags.get("h"); ok {
		k.Hashes = splitColon(h)
	}
	if sv, ok := tags.get("s"); ok {
		k.Services = splitColon(sv)
	}
	if t, ok := tags.get("t"); ok {
		for _, f := range splitColon(t) {
			switch f {
			case "y":
				k.Testing = true
			case "s":
				k.Strict = true
			}
		}
	}
	k.Notes, _ = tags.get("n")
	p, ok := tags.get("p")
	if !ok {
		return nil, syntaxErr("key record without p=")
	}
	der, err := decodeBase64(p)
	if err != nil {
		return nil, syntaxErr("key record p=: %v", err)
	}
	if len(der) == 0 {
		return k, nil // revoked
	}
	switch k.KeyType {
	case "rsa":
		pub, err := parseRSAKey(der)
		if err != nil {
			return nil, err
		}
		k.PublicKey = pub
	case "ed25519":
		// RFC 8463 §4: the raw 32-byte public key, base64.
		if len(der) != ed25519.PublicKeySize {
			return nil, syntaxErr("ed25519 key of %d bytes", len(der))
		}
		k.PublicKey = ed25519.PublicKey(der)
	default:
		return nil, fmt.Errorf("%w: key type %q", ErrUnsupported, clip(k.KeyType))
	}
	return k, nil
}

// parseRSAKey accepts a SubjectPublicKeyInfo (what RFC 6376 signers
// publish in practice) or a bare PKCS#1 RSAPublicKey (what §3.6.1 names).
func parseRSAKey(der []byte) (*rsa.PublicKey, error) {
	var pub *rsa.PublicKey
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: k=rsa but p= holds a %T", ErrKeyMismatch, k)
		}
		pub = rk
	} else if rk, err2 := x509.ParsePKCS1PublicKey(der); err2 == nil {
		pub = rk
	} else {
		return nil, syntaxErr("key record p=: %v", err)
	}
	switch bits := pub.N.BitLen(); {
	case bits < 1024:
		return nil, fmt.Errorf("%w: %d bits", ErrKeyTooSmall, bits)
	case bits > maxRSABits:
		return nil, fmt.Errorf("%w: RSA key of %d bits", ErrUnsupported, bits)
	}
	return pub, nil
}

func splitColon(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ":") {
		if v = trimFWS(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// allows checks that the record may be used for sig (§3.6.1 h=, s=, t=s
// and the key type).
func (k *KeyRecord) allows(sig *Signature) error {
	if k.KeyType != sig.Algorithm.keyType() {
		return fmt.Errorf("%w: k=%s for a=%s", ErrKeyMismatch, k.KeyType, sig.Algorithm)
	}
	if k.Hashes != nil && !contains(k.Hashes, "sha256") {
		return fmt.Errorf("%w: h=%s excludes sha256", ErrKeyMismatch, strings.Join(k.Hashes, ":"))
	}
	if k.Services != nil && !contains(k.Services, "*") && !contains(k.Services, "email") {
		return fmt.Errorf("%w: s=%s excludes email", ErrKeyMismatch, strings.Join(k.Services, ":"))
	}
	if k.Strict {
		// t=s: "any DKIM-Signature header fields using the "i=" tag MUST
		// have the same domain value on the right-hand side of the "@"".
		at := strings.LastIndexByte(sig.Identifier, '@')
		if !strings.EqualFold(sig.Identifier[at+1:], sig.Domain) {
			return fmt.Errorf("%w: t=s and i= is a subdomain of d=", ErrKeyMismatch)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
