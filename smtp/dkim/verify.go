package dkim

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Status is the outcome of verifying one signature, in the words of RFC
// 8601 §2.7.1 so that it can go into Authentication-Results unchanged.
type Status string

// The statuses a [Result] can have.
const (
	// Pass: the signature verified and covers the whole body.
	Pass Status = "pass"
	// Fail: the signature or body hash did not verify.
	Fail Status = "fail"
	// Policy: the signature verified but is not acceptable: its l= tag
	// left part of the body unsigned (content could have been appended).
	Policy Status = "policy"
	// TempError: the key could not be retrieved for now; try later.
	TempError Status = "temperror"
	// PermError: the signature cannot be verified: malformed, an
	// unsupported or forbidden algorithm (rsa-sha1), no key, a revoked or
	// too short key, expired.
	PermError Status = "permerror"
)

// Result is the verification result of one DKIM-Signature field.
type Result struct {
	Status Status
	// Err says why the status is not Pass; it wraps one of the package's
	// Err values (errors.Is). Nil on Pass.
	Err error
	// Signature is the parsed field, nil when it could not be parsed.
	Signature *Signature
	// Key is the key record used, nil when none was retrieved.
	Key *KeyRecord
	// Testing is set when the key record has t=y. RFC 6376 §3.6.1: mail
	// from a domain in testing mode must be treated like unsigned mail by
	// policy; the status is still reported as computed.
	Testing bool
	// BodyLength is the canonical body length seen, in bytes; when the
	// signature has l= and BodyLength exceeds it, the excess was not
	// signed and Status is Policy (RFC 6376 §8.2).
	BodyLength int64
}

// UnsignedBytes returns how many bytes of canonical body an l= tag left
// unsigned (zero without l=).
func (r *Result) UnsignedBytes() int64 {
	if r.Signature == nil || r.Signature.BodyLength < 0 || r.BodyLength <= r.Signature.BodyLength {
		return 0
	}
	return r.BodyLength - r.Signature.BodyLength
}

// Resolver looks up DNS TXT records. It is the one method of
// *net.Resolver this package needs, so net.DefaultResolver satisfies it, as
// does a caching client or a map in a test.
//
// LookupTXT returns the records at name, each the concatenation of its
// character strings. Its error decides the result (RFC 6376 §6.1.2): a
// *net.DNSError with IsNotFound, or any error with a NotFound() bool
// method returning true, means there is no key (permerror); every other
// error is a temporary failure (temperror), never a pass or a fail.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// isNotFound tells a definite "no such record" from a lookup failure.
func isNotFound(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsNotFound
	}
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}

// VerifyOptions configures a [Verifier]. The zero value works.
type VerifyOptions struct {
	// Resolver looks up key records; nil means net.DefaultResolver.
	Resolver Resolver
	// Now gives the time to check x= against; nil means time.Now.
	Now func() time.Time
	// MaxSignatures is the number of DKIM-Signature fields evaluated
	// (RFC 6376 §6.1 allows a limit); further ones get PermError with
	// ErrTooMany. Zero means 8.
	MaxSignatures int
	// MaxHeaderBytes bounds the header section kept for verification;
	// beyond it, or beyond 1000 header fields, the message gets one
	// PermError result with ErrHeaderTooLarge. Zero means 1 MiB.
	MaxHeaderBytes int
}

// Verifier verifies the DKIM signatures of a message written to it. The
// message passes through once (a Verifier is an io.Writer, to put beside
// the store in an io.MultiWriter); memory is bounded by the header limit
// and does not grow with the body. Once 64 KiB of body have passed, the
// key lookups run in the background while the rest streams; for a smaller
// message they are made in Close.
//
// Close must be called after the last Write; Results is valid after it.
// A Verifier is for one message and is not safe for concurrent use.
type Verifier struct {
	ctx    context.Context
	opts   VerifyOptions
	header headerBuf
	fields []field
	sigs   []*pending
	canons []*canonKey
	closed bool
	extra  []Result // past the limits, reported after the others
	res    []Result

	bodySeen  int64 // body bytes written
	lookingUp bool  // the key lookups have been started
}

// canonKey is one body canonicalization shared by the signatures that
// need the same canonicalization and l=.
type canonKey struct {
	c     Canonicalization
	limit int64
	body  *bodyCanon
	sum   []byte
}

// pending is one signature being verified.
type pending struct {
	res   Result
	raw   []byte
	canon *canonKey
	name  string // the key record's DNS name

	done chan struct{} // closed when a background lookup ends; nil if none
	txts []string
	err  error
}

// NewVerifier returns a Verifier. ctx bounds the key lookups.
func NewVerifier(ctx context.Context, opts *VerifyOptions) *Verifier {
	v := &Verifier{ctx: ctx}
	if opts != nil {
		v.opts = *opts
	}
	if v.opts.Resolver == nil {
		v.opts.Resolver = net.DefaultResolver
	}
	if v.opts.Now == nil {
		v.opts.Now = time.Now
	}
	if v.opts.MaxSignatures <= 0 {
		v.opts.MaxSignatures = 8
	}
	if v.opts.MaxHeaderBytes <= 0 {
		v.opts.MaxHeaderBytes = 1 << 20
	}
	v.header.max = v.opts.MaxHeaderBytes
	v.header.buf = make([]byte, 0, 4096)
	return v
}

// Verify reads a whole message from r and verifies its signatures. The
// error is from reading r; verification outcomes are in the results.
func Verify(ctx context.Context, r io.Reader, opts *VerifyOptions) ([]Result, error) {
	v := NewVerifier(ctx, opts)
	if _, err := io.Copy(v, r); err != nil {
		v.Close()
		return nil, err
	}
	if err := v.Close(); err != nil {
		return nil, err
	}
	return v.Results(), nil
}

// Write takes the next bytes of the message. It does not fail, so that a
// Verifier beside the store in an io.MultiWriter never stops delivery.
func (v *Verifier) Write(p []byte) (int, error) {
	if v.closed {
		return 0, errors.New("dkim: write after Close")
	}
	n := len(p)
	if !v.header.done {
		p = v.header.feed(p)
		if !v.header.done {
			return n, nil
		}
		v.startSignatures()
	}
	if len(p) > 0 {
		for _, c := range v.canons {
			c.body.Write(p)
		}
		if v.bodySeen += int64(len(p)); v.bodySeen >= lookupAhead && !v.lookingUp {
			v.startLookups()
		}
	}
	return n, nil
}

// startSignatures parses the header once it is complete, sets up the body
// hashes and starts the key lookups.
func (v *Verifier) startSignatures() {
	if !v.header.overflow {
		v.fields = v.header.fields()
	}
	if v.header.overflow {
		v.extra = append(v.extra, Result{Status: PermError, Err: ErrHeaderTooLarge})
		return
	}
	for _, f := range v.fields {
		if !equalFold(f.name, "DKIM-Signature") {
			continue
		}
		if len(v.sigs) == v.opts.MaxSignatures {
			v.extra = append(v.extra, Result{Status: PermError, Err: ErrTooMany})
			continue
		}
		p := &pending{raw: f.raw}
		v.sigs = append(v.sigs, p)
		sig, err := ParseSignature(f.value())
		p.res.Signature = sig
		if err != nil {
			p.res.Status, p.res.Err = PermError, err
			continue
		}
		if !sig.Expiration.IsZero() && v.opts.Now().After(sig.Expiration) {
			p.res.Status, p.res.Err = PermError, fmt.Errorf("%w at %s", ErrExpired, sig.Expiration.UTC().Format(time.RFC3339))
			continue
		}
		p.canon = v.canonFor(sig.BodyCanon, sig.BodyLength)
		p.name = sig.Selector + "._domainkey." + sig.Domain
	}
}

// lookupAhead is the body size from which key lookups run in the
// background while the rest of the body streams (RFC 6376 §6.1.3 suggests
// it). Below it the lookups are made in Close: a goroutine per lookup
// costs more CPU than it saves time on a small message.
const lookupAhead = 64 << 10

// startLookups starts the key lookups in the background.
func (v *Verifier) startLookups() {
	v.lookingUp = true
	for _, p := range v.sigs {
		if p.name == "" || p.res.Status != "" {
			continue
		}
		p.done = make(chan struct{})
		go func() {
			defer close(p.done)
			p.txts, p.err = v.opts.Resolver.LookupTXT(v.ctx, p.name)
		}()
	}
}

func (v *Verifier) canonFor(c Canonicalization, limit int64) *canonKey {
	for _, k := range v.canons {
		if k.c == c && k.limit == limit {
			return k
		}
	}
	k := &canonKey{c: c, limit: limit, body: newBodyCanon(c, sha256.New(), limit)}
	v.canons = append(v.canons, k)
	return k
}

// Close ends the message, waits for the key lookups (bounded by the
// context given to NewVerifier) and computes the results.
func (v *Verifier) Close() error {
	if v.closed {
		return nil
	}
	v.closed = true
	if !v.header.done {
		// A message that is all header: no blank line, empty body.
		v.header.done = true
		v.startSignatures()
	}
	for _, c := range v.canons {
		c.body.finish()
		c.sum = c.body.h.Sum(nil)
	}
	// One buffer for every signature's header hash input.
	scratch := make([]byte, 0, len(v.header.buf)+256)
	for _, p := range v.sigs {
		if p.res.Status == "" {
			scratch = v.finish(p, scratch)
		}
		v.res = append(v.res, p.res)
	}
	v.res = append(v.res, v.extra...)
	return nil
}

// Results returns one Result per DKIM-Signature field in header order
// (those past the limits last). It is empty for an unsigned message.
func (v *Verifier) Results() []Result { return v.res }

// finish verifies one signature after the body is complete (RFC 6376
// §6.1.2 and §6.1.3).
func (v *Verifier) finish(p *pending, scratch []byte) []byte {
	r, sig := &p.res, p.res.Signature
	r.BodyLength = p.canon.body.n
	if p.done == nil {
		p.txts, p.err = v.opts.Resolver.LookupTXT(v.ctx, p.name)
	} else {
		select {
		case <-p.done:
		case <-v.ctx.Done():
			r.Status, r.Err = TempError, fmt.Errorf("%w: %v", ErrTemporary, v.ctx.Err())
			return scratch
		}
	}
	key, st, err := pickKey(p.txts, p.err)
	if err != nil {
		r.Status, r.Err = st, err
		return scratch
	}
	r.Key, r.Testing = key, key.Testing
	if key.Revoked() {
		r.Status, r.Err = PermError, ErrKeyRevoked
		return scratch
	}
	if err := key.allows(sig); err != nil {
		r.Status, r.Err = PermError, err
		return scratch
	}
	// §6.1.3 step 1: the body hash.
	if string(p.canon.sum) != string(sig.BodyHash) {
		r.Status, r.Err = Fail, ErrBodyHash
		return scratch
	}
	// Steps 2 to 4: hash the selected header fields and then the
	// signature field without its b= value and final CRLF.
	scratch = selectFields(scratch[:0], sig.HeaderCanon, v.fields, sig.Headers)
	scratch = appendCanonHeader(scratch, sig.HeaderCanon, withoutSignatureValue(p.raw))
	if n := len(scratch); n >= 2 && scratch[n-2] == '\r' && scratch[n-1] == '\n' {
		scratch = scratch[:n-2]
	}
	sum := sha256.Sum256(scratch)
	switch pub := key.PublicKey.(type) {
	case *rsa.PublicKey:
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig.Value)
	case ed25519.PublicKey:
		// RFC 8463 §3: Ed25519 signs the SHA-256 hash (PureEdDSA over
		// the 32-byte digest).
		if !ed25519.Verify(pub, sum[:], sig.Value) {
			err = ErrSignature
		}
	}
	if err != nil {
		r.Status, r.Err = Fail, ErrSignature
		return scratch
	}
	if sig.BodyLength >= 0 && r.BodyLength > sig.BodyLength {
		// RFC 6376 §8.2: content past l= is not covered; anyone could
		// have appended it.
		r.Status, r.Err = Policy, fmt.Errorf("dkim: l=%d leaves %d body bytes unsigned", sig.BodyLength, r.UnsignedBytes())
		return scratch
	}
	r.Status = Pass
	return scratch
}

// pickKey turns the answer of the key lookup into a key record (RFC 6376
// §6.1.2). Of several records the first that parses is used.
func pickKey(txts []string, err error) (*KeyRecord, Status, error) {
	if err != nil {
		if isNotFound(err) {
			return nil, PermError, ErrNoKey
		}
		return nil, TempError, fmt.Errorf("%w: %v", ErrTemporary, err)
	}
	if len(txts) == 0 {
		return nil, PermError, ErrNoKey
	}
	var first error
	for i, t := range txts {
		if i == 8 {
			break // bounded work on an answer built to be expensive
		}
		k, err := ParseKeyRecord(t)
		if err == nil {
			return k, "", nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, PermError, first
}
