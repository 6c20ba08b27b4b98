package dkim

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxSignedNames bounds the h= list (see maxFields). Over-signing every
// field of DefaultHeaders twice stays far below it.
const maxSignedNames = 128

// Algorithm names a signing algorithm (the a= tag, RFC 6376 §3.3).
type Algorithm string

// The algorithms this package knows. Only RSASHA256 and Ed25519SHA256 are
// accepted; RSASHA1 is recognised so that it can be refused with its own
// reason (RFC 8301 §3.1).
const (
	RSASHA256     Algorithm = "rsa-sha256"
	Ed25519SHA256 Algorithm = "ed25519-sha256" // RFC 8463
	RSASHA1       Algorithm = "rsa-sha1"
)

// keyType is the k= key type an algorithm needs.
func (a Algorithm) keyType() string {
	if a == Ed25519SHA256 {
		return "ed25519"
	}
	return "rsa"
}

// Signature is a parsed DKIM-Signature field (RFC 6376 §3.5).
type Signature struct {
	Algorithm   Algorithm        // a=
	HeaderCanon Canonicalization // c=, the part before "/"
	BodyCanon   Canonicalization // c=, the part after "/"
	Domain      string           // d=, the signing domain (SDID), lower case
	Selector    string           // s=
	Identifier  string           // i= (AUID); "@" + Domain when absent
	Headers     []string         // h=, the signed field names in order
	BodyLength  int64            // l=, or -1 when absent
	Timestamp   time.Time        // t=, zero when absent
	Expiration  time.Time        // x=, zero when absent
	BodyHash    []byte           // bh=
	Value       []byte           // b=, the signature itself
}

// Errors describing why a signature does not verify, for errors.Is on
// [Result].Err. Each result error wraps one of them.
var (
	// ErrSyntax: the DKIM-Signature field or key record is malformed.
	ErrSyntax = errors.New("dkim: syntax error")
	// ErrSHA1: the signature uses rsa-sha1, which RFC 8301 §3.1 forbids
	// verifiers to accept.
	ErrSHA1 = errors.New("dkim: rsa-sha1 signatures are not accepted (RFC 8301 §3.1)")
	// ErrKeyTooSmall: the RSA key is shorter than 1024 bits (RFC 8301 §3.2).
	ErrKeyTooSmall = errors.New("dkim: RSA key shorter than 1024 bits (RFC 8301 §3.2)")
	// ErrUnsupported: an algorithm, key type, query method or version
	// this package does not implement.
	ErrUnsupported = errors.New("dkim: unsupported")
	// ErrExpired: the x= time has passed.
	ErrExpired = errors.New("dkim: signature expired")
	// ErrNoKey: no key record at selector._domainkey.domain.
	ErrNoKey = errors.New("dkim: no key record")
	// ErrKeyRevoked: the key record has an empty p= (RFC 6376 §3.6.1).
	ErrKeyRevoked = errors.New("dkim: key revoked")
	// ErrKeyMismatch: the key record does not allow this signature (key
	// type, h=, s= or t=s).
	ErrKeyMismatch = errors.New("dkim: key record does not allow this signature")
	// ErrBodyHash: the body does not match bh= (RFC 6376 §6.1.3).
	ErrBodyHash = errors.New("dkim: body hash did not verify")
	// ErrSignature: the signature does not match the signed header fields.
	ErrSignature = errors.New("dkim: signature did not verify")
	// ErrTemporary: the key could not be looked up for now.
	ErrTemporary = errors.New("dkim: key lookup failed temporarily")
	// ErrTooMany: more signatures than the verifier evaluates.
	ErrTooMany = errors.New("dkim: too many signatures")
	// ErrHeaderTooLarge: the header section exceeds the verifier's limit.
	ErrHeaderTooLarge = errors.New("dkim: header section too large")
)

func syntaxErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSyntax, fmt.Sprintf(format, args...))
}

// ParseSignature parses the value of a DKIM-Signature field (everything
// after the colon) and checks it as RFC 6376 §6.1.1 requires. A signature
// using rsa-sha1 is parsed and returned together with an error wrapping
// [ErrSHA1].
func ParseSignature(value string) (*Signature, error) {
	tags, err := parseTagList(value)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	// §6.1.1: the required tags.
	for _, name := range []string{"v", "a", "b", "bh", "d", "h", "s"} {
		if _, ok := tags.get(name); !ok {
			return nil, syntaxErr("required tag %s= missing", name)
		}
	}
	sig := &Signature{BodyLength: -1}
	if v, _ := tags.get("v"); v != "1" {
		return nil, fmt.Errorf("%w: signature version %q", ErrUnsupported, clip(v))
	}
	sig.Domain = strings.ToLower(valueOf(tags, "d"))
	if !isDomain(sig.Domain) {
		return nil, syntaxErr("bad d= domain %q", clip(sig.Domain))
	}
	sig.Selector = strings.ToLower(valueOf(tags, "s"))
	if !isDomain(sig.Selector) {
		return nil, syntaxErr("bad s= selector %q", clip(sig.Selector))
	}
	if sig.Value, err = decodeBase64(valueOf(tags, "b")); err != nil {
		return nil, syntaxErr("b=: %v", err)
	}
	if sig.BodyHash, err = decodeBase64(valueOf(tags, "bh")); err != nil {
		return nil, syntaxErr("bh=: %v", err)
	}
	hv := valueOf(tags, "h")
	if n := strings.Count(hv, ":") + 1; n > maxSignedNames {
		return nil, syntaxErr("h= names %d fields, more than %d", n, maxSignedNames)
	}
	sig.Headers = make([]string, 0, strings.Count(hv, ":")+1)
	for h := range strings.SplitSeq(hv, ":") {
		h = trimFWS(h)
		if h == "" || strings.ContainsAny(h, " \t\r\n") {
			return nil, syntaxErr("bad h= field name %q", clip(h))
		}
		sig.Headers = append(sig.Headers, h)
	}
	// §6.1.1: "If the "h=" tag does not include the From header field, the
	// Verifier MUST ignore the DKIM-Signature header field".
	from := false
	for _, h := range sig.Headers {
		from = from || strings.EqualFold(h, "From")
	}
	if !from {
		return nil, syntaxErr("h= does not include From")
	}
	sig.HeaderCanon, sig.BodyCanon = Simple, Simple
	if c, ok := tags.get("c"); ok {
		hc, bc, slash := strings.Cut(c, "/")
		if sig.HeaderCanon, err = parseCanon(hc); err != nil {
			return nil, syntaxErr("c=: %v", err)
		}
		if slash {
			if sig.BodyCanon, err = parseCanon(bc); err != nil {
				return nil, syntaxErr("c=: %v", err)
			}
		}
	}
	sig.Identifier = "@" + sig.Domain
	if i, ok := tags.get("i"); ok {
		at := strings.LastIndexByte(i, '@')
		if at < 0 {
			return nil, syntaxErr("i= without @")
		}
		// §3.5 "i=": the domain of the AUID must be d= or a subdomain.
		if d := strings.ToLower(i[at+1:]); d != sig.Domain && !strings.HasSuffix(d, "."+sig.Domain) {
			return nil, syntaxErr("i= domain %q is not within d=%s", clip(d), sig.Domain)
		}
		sig.Identifier = i
	}
	if l, ok := tags.get("l"); ok {
		if sig.BodyLength, err = parseDecimal(l); err != nil {
			return nil, syntaxErr("l=: %v", err)
		}
	}
	if q, ok := tags.get("q"); ok {
		dns := false
		for _, m := range strings.Split(q, ":") {
			dns = dns || trimFWS(m) == "dns/txt"
		}
		if !dns {
			return nil, fmt.Errorf("%w: query method %q", ErrUnsupported, clip(q))
		}
	}
	if t, ok := tags.get("t"); ok {
		n, err := parseDecimal(t)
		if err != nil {
			return nil, syntaxErr("t=: %v", err)
		}
		sig.Timestamp = time.Unix(n, 0)
	}
	if x, ok := tags.get("x"); ok {
		n, err := parseDecimal(x)
		if err != nil {
			return nil, syntaxErr("x=: %v", err)
		}
		sig.Expiration = time.Unix(n, 0)
		// §3.5 "x=": "the value of the "x=" tag MUST be greater than the
		// value of the "t=" tag if both are present".
		if !sig.Timestamp.IsZero() && !sig.Expiration.After(sig.Timestamp) {
			return nil, syntaxErr("x= not after t=")
		}
	}
	switch a := Algorithm(valueOf(tags, "a")); a {
	case RSASHA256, Ed25519SHA256:
		sig.Algorithm = a
	case RSASHA1:
		sig.Algorithm = a
		return sig, ErrSHA1
	default:
		return nil, fmt.Errorf("%w: algorithm %q", ErrUnsupported, clip(string(a)))
	}
	return sig, nil
}

func valueOf(tags tagList, name string) string {
	v, _ := tags.get(name)
	return v
}

// decodeBase64 decodes a base64 value whose grammar allows FWS anywhere.
// An empty value decodes to an empty slice.
func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(stripFWS(s))
}

// parseDecimal parses 1*12DIGIT-style numbers, refusing signs and values
// that do not fit an int64.
func parseDecimal(s string) (int64, error) {
	if s == "" || len(s) > 18 {
		return 0, fmt.Errorf("bad number %q", clip(s))
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, fmt.Errorf("bad number %q", clip(s))
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// isDomain checks an ASCII domain name or selector: labels of letters,
// digits, hyphens and underscores, dot-separated, at most 253 bytes.
func isDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}
