package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultHeaders returns the fields signed when [SignOptions].Headers is
// nil: those that carry what a reader sees and trusts (RFC 6376 §5.4.1),
// and none that relays add or rewrite (Received, Return-Path).
func DefaultHeaders() []string { return append([]string(nil), defaultHeaders...) }

var defaultHeaders = []string{
	"From", "Reply-To", "Subject", "Date", "To", "Cc",
	"Resent-Date", "Resent-From", "Resent-To", "Resent-Cc",
	"In-Reply-To", "References", "Message-ID",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post",
	"List-Subscribe", "List-Post", "List-Owner", "List-Archive",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"Content-ID", "Content-Description", "Sender", "Feedback-ID",
}

// SignOptions configures a [Signer].
type SignOptions struct {
	// Domain is the signing domain, d= (required).
	Domain string
	// Selector is the key's selector, s= (required): the key record is
	// published at Selector._domainkey.Domain.
	Selector string
	// Key signs: an *rsa.PrivateKey of at least 1024 bits (RFC 8301 §3.2
	// asks for 2048), an ed25519.PrivateKey (RFC 8463), or any
	// crypto.Signer with such a public key (an HSM, a KMS). The algorithm
	// follows from it.
	Key crypto.Signer
	// Identifier is the i= tag (AUID), such as "@example.com" or
	// "alerts@mail.example.com"; empty leaves it out (it then defaults to
	// "@" + Domain).
	Identifier string
	// Headers are the field names to sign; nil means [DefaultHeaders].
	// From is always signed.
	Headers []string
	// NoOverSign turns over-signing off. By default each name in Headers
	// is listed in h= once more than the message has fields of that name,
	// so that a field added later, or one that was absent, breaks the
	// signature (RFC 6376 §8.15).
	NoOverSign bool
	// HeaderCanon and BodyCanon choose the canonicalization; empty means
	// Relaxed, which survives the rewrapping relays do.
	HeaderCanon, BodyCanon Canonicalization
	// Expiration, when positive, sets x= that long after t=.
	Expiration time.Duration
	// Now gives t=; nil means time.Now.
	Now func() time.Time
	// MaxHeaderBytes bounds the header kept while signing; zero means
	// 1 MiB.
	MaxHeaderBytes int
}

// Signer computes a DKIM signature over a message written to it. It hashes
// in one pass with constant memory (it keeps only the header). After
// Close, [Signer.Field] is the DKIM-Signature field to put before the
// message: the signed message is Field followed by the unchanged message.
// [Sign] and [SignReaderAt] do both passes.
type Signer struct {
	opts   SignOptions
	alg    Algorithm
	header headerBuf
	body   *bodyCanon
	field  string
	err    error
	closed bool
}

// NewSigner checks opts and returns a Signer.
func NewSigner(opts *SignOptions) (*Signer, error) {
	s := &Signer{opts: *opts}
	o := &s.opts
	if !isDomain(o.Domain) {
		return nil, fmt.Errorf("dkim: bad signing domain %q", clip(o.Domain))
	}
	if !isDomain(o.Selector) {
		return nil, fmt.Errorf("dkim: bad selector %q", clip(o.Selector))
	}
	o.Domain, o.Selector = strings.ToLower(o.Domain), strings.ToLower(o.Selector)
	if o.Identifier != "" {
		at := strings.LastIndexByte(o.Identifier, '@')
		d := strings.ToLower(o.Identifier[at+1:])
		if at < 0 || (d != o.Domain && !strings.HasSuffix(d, "."+o.Domain)) {
			return nil, fmt.Errorf("dkim: identifier %q is not within %s", clip(o.Identifier), o.Domain)
		}
		for i := 0; i < len(o.Identifier); i++ {
			// Only characters that need no dkim-quoted-printable.
			if c := o.Identifier[i]; c <= ' ' || c >= 0x7f || c == ';' || c == '=' {
				return nil, fmt.Errorf("dkim: identifier %q needs quoting", clip(o.Identifier))
			}
		}
	}
	if o.Key == nil {
		return nil, errors.New("dkim: no signing key")
	}
	switch pub := o.Key.Public().(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 1024 {
			return nil, fmt.Errorf("%w: %d bits", ErrKeyTooSmall, pub.N.BitLen())
		}
		s.alg = RSASHA256
	case ed25519.PublicKey:
		s.alg = Ed25519SHA256
	default:
		return nil, fmt.Errorf("%w: key type %T", ErrUnsupported, pub)
	}
	if o.Headers == nil {
		o.Headers = defaultHeaders
	}
	from := false
	for _, h := range o.Headers {
		if h == "" || strings.ContainsAny(h, ": \t\r\n;") || !isPrintableASCII(h) {
			return nil, fmt.Errorf("dkim: bad header name %q", clip(h))
		}
		from = from || strings.EqualFold(h, "From")
	}
	if !from {
		o.Headers = append([]string{"From"}, o.Headers...)
	}
	for _, c := range []*Canonicalization{&o.HeaderCanon, &o.BodyCanon} {
		switch *c {
		case "":
			*c = Relaxed
		case Simple, Relaxed:
		default:
			return nil, fmt.Errorf("dkim: unknown canonicalization %q", clip(string(*c)))
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 1 << 20
	}
	s.header.max = o.MaxHeaderBytes
	s.body = newBodyCanon(o.BodyCanon, sha256.New(), -1)
	return s, nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// Write hashes the next bytes of the message.
func (s *Signer) Write(p []byte) (int, error) {
	if s.closed {
		return 0, errors.New("dkim: write after Close")
	}
	n := len(p)
	if !s.header.done {
		p = s.header.feed(p)
		if !s.header.done {
			return n, nil
		}
	}
	if len(p) > 0 {
		s.body.Write(p)
	}
	return n, nil
}

// Close ends the message and computes the signature.
func (s *Signer) Close() error {
	if s.closed {
		return s.err
	}
	s.closed = true
	s.header.done = true
	var fs []field
	if !s.header.overflow {
		fs = s.header.fields()
	}
	if s.header.overflow {
		s.err = ErrHeaderTooLarge
		return s.err
	}
	s.body.finish()
	s.field, s.err = s.sign(fs, s.body.h.Sum(nil))
	return s.err
}

// Field returns the DKIM-Signature header field, folded, with its
// terminating CRLF. It is valid after Close returned nil.
func (s *Signer) Field() string { return s.field }

// signedNames lists the h= names: each configured name as many times as
// the message has it, plus once more when over-signing.
func (s *Signer) signedNames(fs []field) []string {
	var names []string
	for i, h := range s.opts.Headers {
		if slices.ContainsFunc(s.opts.Headers[:i], func(p string) bool { return strings.EqualFold(p, h) }) {
			continue // listed twice in Headers: counted once
		}
		n := 0
		for _, f := range fs {
			if equalFold(f.name, h) {
				n++
			}
		}
		// Never over-sign DKIM-Signature: a later signature added above
		// this one is expected, and would break it.
		if !s.opts.NoOverSign && !strings.EqualFold(h, "DKIM-Signature") {
			n++
		}
		for ; n > 0; n-- {
			names = append(names, h)
		}
	}
	return names
}

func (s *Signer) sign(fs []field, bodyHash []byte) (string, error) {
	o := &s.opts
	names := s.signedNames(fs)
	if len(names) > maxSignedNames {
		return "", fmt.Errorf("dkim: h= would name %d fields, more than the %d verifiers here accept", len(names), maxSignedNames)
	}
	// The field is folded at tag boundaries and inside h=, b= and bh=;
	// with simple header canonicalization the folding is what is signed,
	// so it is built once and only b= is filled in afterwards.
	var f folder
	f.b.WriteString("DKIM-Signature:")
	f.col = len("DKIM-Signature:")
	f.tag("v=1;")
	f.tag("a=" + string(s.alg) + ";")
	f.tag("c=" + string(o.HeaderCanon) + "/" + string(o.BodyCanon) + ";")
	f.tag("d=" + o.Domain + ";")
	f.tag("s=" + o.Selector + ";")
	if o.Identifier != "" {
		f.tag("i=" + o.Identifier + ";")
	}
	now := o.Now()
	f.tag("t=" + strconv.FormatInt(now.Unix(), 10) + ";")
	if o.Expiration > 0 {
		f.tag("x=" + strconv.FormatInt(now.Add(o.Expiration).Unix(), 10) + ";")
	}
	for i, n := range names {
		sep := ":"
		if i == 0 {
			sep = "h="
		}
		if i == len(names)-1 {
			f.word(sep+n+";", i == 0)
		} else {
			f.word(sep+n, i == 0)
		}
	}
	f.base64("bh=", base64.StdEncoding.EncodeToString(bodyHash), ";")
	f.base64("b=", "", "")
	unsigned := f.b.String()

	hdr := selectFields(nil, o.HeaderCanon, fs, names)
	hdr = appendCanonHeader(hdr, o.HeaderCanon, []byte(unsigned+"\r\n"))
	hdr = hdr[:len(hdr)-2]
	sum := sha256.Sum256(hdr)
	var sig []byte
	var err error
	if s.alg == Ed25519SHA256 {
		sig, err = o.Key.Sign(rand.Reader, sum[:], crypto.Hash(0))
	} else {
		sig, err = o.Key.Sign(rand.Reader, sum[:], crypto.SHA256)
	}
	if err != nil {
		return "", fmt.Errorf("dkim: signing: %w", err)
	}
	f.base64("", base64.StdEncoding.EncodeToString(sig), "")
	f.b.WriteString("\r\n")
	return f.b.String(), nil
}

// folder builds a header field folded before 78 columns (RFC 5322 §2.1.1).
type folder struct {
	b   strings.Builder
	col int
}

const foldAt = 76

// tag adds a whole tag, on a new line if it does not fit.
func (f *folder) tag(s string) { f.word(s, true) }

// word adds s, preceded by a space when space is set, folding first if
// the line would get too long.
func (f *folder) word(s string, space bool) {
	if f.col+len(s)+1 > foldAt {
		f.b.WriteString("\r\n ")
		f.col = 1
	} else if space {
		f.b.WriteByte(' ')
		f.col++
	}
	f.b.WriteString(s)
	f.col += len(s)
}

// base64 adds a base64 value, breaking it across lines as needed (FWS is
// allowed anywhere in it).
func (f *folder) base64(prefix, v, suffix string) {
	if prefix != "" {
		if f.col+1+len(prefix)+16 > foldAt {
			f.b.WriteString("\r\n")
			f.col = 0
		}
		f.word(prefix, true)
	}
	for len(v) > 0 {
		room := foldAt - f.col
		if room < 8 {
			f.b.WriteString("\r\n ")
			f.col = 1
			continue
		}
		n := min(room, len(v))
		f.b.WriteString(v[:n])
		f.col += n
		v = v[n:]
	}
	f.b.WriteString(suffix)
	f.col += len(suffix)
}

// SignReaderAt signs the size-byte message in r and writes the signed
// message (the DKIM-Signature field, then the message unchanged) to w: one
// pass to hash, one to copy.
func SignReaderAt(w io.Writer, r io.ReaderAt, size int64, opts *SignOptions) error {
	s, err := NewSigner(opts)
	if err != nil {
		return err
	}
	if _, err := io.Copy(s, io.NewSectionReader(r, 0, size)); err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	if _, err := io.WriteString(w, s.Field()); err != nil {
		return err
	}
	_, err = io.Copy(w, io.NewSectionReader(r, 0, size))
	return err
}

// Signed is a stored message with its DKIM-Signature field in front,
// readable at any offset without copying the message: hand it to an SMTP
// client that sends from an io.ReaderAt (smtpclient.Client.Send), or read
// it with io.NewSectionReader(s, 0, s.Size()).
type Signed struct {
	field string
	msg   *io.SectionReader
}

// SignStored hashes the size-byte message in r (one pass) and returns it
// signed. r must not change until the Signed is no longer read.
func SignStored(r io.ReaderAt, size int64, opts *SignOptions) (*Signed, error) {
	s, err := NewSigner(opts)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(s, io.NewSectionReader(r, 0, size)); err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	return &Signed{field: s.Field(), msg: io.NewSectionReader(r, 0, size)}, nil
}

// Field returns the DKIM-Signature field.
func (s *Signed) Field() string { return s.field }

// Size returns the size of the signed message.
func (s *Signed) Size() int64 { return int64(len(s.field)) + s.msg.Size() }

// ReadAt reads the signed message at off.
func (s *Signed) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("dkim: negative offset")
	}
	n := 0
	if off < int64(len(s.field)) {
		n = copy(p, s.field[off:])
		off += int64(n)
		if n == len(p) {
			return n, nil
		}
	}
	m, err := s.msg.ReadAt(p[n:], off-int64(len(s.field)))
	return n + m, err
}

// Sign signs the message read from r and writes the signed message to w.
// The message is spooled while it is hashed: in memory up to 1 MiB, then
// in a temporary file (removed before Sign returns), so memory stays
// bounded. If the message is already stored, [SignReaderAt] avoids the
// copy.
func Sign(w io.Writer, r io.Reader, opts *SignOptions) error {
	s, err := NewSigner(opts)
	if err != nil {
		return err
	}
	sp := &spool{max: 1 << 20}
	defer sp.remove()
	if _, err := io.Copy(io.MultiWriter(s, sp), r); err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	if _, err := io.WriteString(w, s.Field()); err != nil {
		return err
	}
	return sp.writeTo(w)
}
