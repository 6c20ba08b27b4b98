package dkim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// RFC 6376 §3.4.5, examples 1 to 3.
func TestRFC6376CanonicalizationExamples(t *testing.T) {
	header := "A: X\r\nB : Y\t\r\n\tZ  \r\n"
	body := " C \r\nD \t E\r\n\r\n\r\n"
	var fs []field
	h := headerBuf{max: 1 << 20}
	h.feed([]byte(header + "\r\n"))
	fs = h.fields()
	require.Len(t, fs, 2)

	canonHeader := func(c Canonicalization) string {
		var out []byte
		for _, f := range fs {
			out = appendCanonHeader(out, c, f.raw)
		}
		return string(out)
	}
	canonBody := func(c Canonicalization) string {
		var out bytes.Buffer
		bc := newBodyCanon(c, nopHash{&out}, -1)
		bc.Write([]byte(body))
		bc.finish()
		return out.String()
	}
	// Example 1: relaxed/relaxed.
	require.Equal(t, "a:X\r\nb:Y Z\r\n", canonHeader(Relaxed))
	require.Equal(t, " C\r\nD E\r\n", canonBody(Relaxed))
	// Example 2: simple/simple.
	require.Equal(t, header, canonHeader(Simple))
	require.Equal(t, " C \r\nD \t E\r\n", canonBody(Simple))
	// Example 3 combines the two; nothing new to check.
}

// nopHash collects what would be hashed.
type nopHash struct{ b *bytes.Buffer }

func (h nopHash) Write(p []byte) (int, error) { return h.b.Write(p) }
func (h nopHash) Sum(b []byte) []byte         { return append(b, h.b.Bytes()...) }
func (h nopHash) Reset()                      { h.b.Reset() }
func (h nopHash) Size() int                   { return 0 }
func (h nopHash) BlockSize() int              { return 1 }

// Empty bodies: simple is one CRLF (§3.4.3), relaxed is empty (§3.4.4, as
// corrected by erratum 3192... the hash of the empty string).
func TestEmptyBodyCanonicalization(t *testing.T) {
	for _, tc := range []struct {
		c    Canonicalization
		body string
		want string
	}{
		{Simple, "", "\r\n"},
		{Simple, "\r\n\r\n", "\r\n"},
		{Relaxed, "", ""},
		{Relaxed, " \r\n\t\r\n", ""},
		{Simple, "x", "x\r\n"},
		{Relaxed, "x \t", "x\r\n"},
		{Simple, "a\rb\r", "a\rb\r\r\n"},
		{Simple, "a\nb\n\n", "a\r\nb\r\n"},
	} {
		var out bytes.Buffer
		bc := newBodyCanon(tc.c, nopHash{&out}, -1)
		bc.Write([]byte(tc.body))
		bc.finish()
		require.Equal(t, tc.want, out.String(), "%s %q", tc.c, tc.body)
	}
}

// RFC 6376 Appendix A.2: the body hash of the example message. The bh=
// printed there (2jUS...) is the relaxed hash although the example says
// c=simple/simple; the simple hash below was computed independently
// (Python hashlib over the body as printed). RFC 8463 A.3 uses the same
// body with relaxed and the same bh=, which confirms the relaxed value.
func TestRFC6376ExampleBodyHash(t *testing.T) {
	body := "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n"
	for c, want := range map[Canonicalization]string{
		Relaxed: "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=",
		Simple:  "4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=",
	} {
		h := sha256.New()
		bc := newBodyCanon(c, h, -1)
		bc.Write([]byte(body))
		bc.finish()
		require.Equal(t, want, base64.StdEncoding.EncodeToString(h.Sum(nil)), c)
	}
}

const sampleMessage = "Received: from client1.football.example.com [192.0.2.1]\r\n" +
	"\tby submitserver.example.com with SUBMISSION;\r\n" +
	"\tFri, 11 Jul 2003 21:01:54 -0700 (PDT)\r\n" +
	"From: Joe SixPack <joe@football.example.com>\r\n" +
	"To: Suzie Q <suzie@shopping.example.net>\r\n" +
	"Subject: Is dinner ready?\r\n" +
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" +
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n" +
	"\r\n" +
	"Hi.\r\n" +
	"\r\n" +
	"We lost the game.  Are you hungry yet?\r\n" +
	"\r\n" +
	"Joe.\r\n"

func signWith(t *testing.T, msg string, opts SignOptions) string {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, Sign(&out, strings.NewReader(msg), &opts))
	return out.String()
}

// The tampering table: every change a signature must catch breaks it, and
// every change its canonicalization allows does not (RFC 6376 §3.4).
func TestTampering(t *testing.T) {
	ek, _ := rfc8463Keys(t)
	rec, _ := KeyRecordFor(ek.Public())
	z := zone{"sel._domainkey.example.com": {rec}}
	type change struct {
		name    string
		edit    func(string) string
		simple  bool // still passes with simple/simple
		relaxed bool // still passes with relaxed/relaxed
	}
	repl := func(old, new string) func(string) string {
		return func(s string) string {
			require.Contains(t, s, old)
			return strings.Replace(s, old, new, 1)
		}
	}
	insertBeforeBody := func(f string) func(string) string {
		return repl("\r\n\r\nHi.", "\r\n"+f+"\r\n\r\nHi.")
	}
	changes := []change{
		{"unchanged", func(s string) string { return s }, true, true},
		// Breaks under both.
		{"From changed", repl("Joe SixPack", "Joe Sixpack"), false, false},
		{"Subject changed", repl("dinner ready", "dinner served"), false, false},
		{"second From added (over-signed)", insertBeforeBody("From: Mallory <m@evil.example>"), false, false},
		{"second Subject prepended", repl("Received:", "Subject: Urgent\r\nReceived:"), false, false},
		{"absent Reply-To added (over-signed)", insertBeforeBody("Reply-To: m@evil.example"), false, false},
		{"absent Cc added (over-signed)", insertBeforeBody("Cc: m@evil.example"), false, false},
		{"To removed", repl("To: Suzie Q <suzie@shopping.example.net>\r\n", ""), false, false},
		{"body word changed", repl("lost the game", "won the game"), false, false},
		{"body line appended", func(s string) string { return s + "P.S. wire money\r\n" }, false, false},
		{"body line removed", repl("Hi.\r\n\r\n", ""), false, false},
		{"body text without line break appended", func(s string) string { return s + "x" }, false, false},
		{"empty line inserted in body", repl("Hi.\r\n", "Hi.\r\n\r\n"), false, false},
		{"whitespace inserted inside body word", repl("game", "ga me"), false, false},
		{"signature value altered", func(s string) string {
			i := strings.Index(s, " b=") + 3
			c := byte('A')
			if s[i] == 'A' {
				c = 'B'
			}
			return s[:i] + string(c) + s[i+1:]
		}, false, false},
		{"d= changed", repl("d=example.com", "d=example.net"), false, false},
		// Allowed by relaxed only.
		{"header name case changed", repl("\r\nSubject:", "\r\nSUBJECT:"), false, true},
		{"space added in header value", repl("Suzie Q", "Suzie  Q"), false, true},
		{"header refolded", repl("To: Suzie Q", "To: Suzie\r\n Q"), false, true},
		{"space before colon", repl("\r\nSubject:", "\r\nSubject :"), false, true},
		{"trailing space on body line", repl("Hi.\r\n", "Hi. \r\n"), false, true},
		{"body whitespace run changed", repl("game.  Are", "game.\tAre"), false, true},
		{"leading tab becomes space", repl("Joe.\r\n", "Joe.\r\n"), true, true},
		// Allowed by both.
		{"unsigned field added", insertBeforeBody("X-Spam-Score: 0.1"), true, true},
		{"Received added on top", func(s string) string { return "Received: from mx by relay\r\n" + s }, true, true},
		{"signed fields reordered", func(s string) string {
			s = strings.Replace(s, "To: Suzie Q <suzie@shopping.example.net>\r\n", "", 1)
			return strings.Replace(s, "\r\nDate:", "\r\nTo: Suzie Q <suzie@shopping.example.net>\r\nDate:", 1)
		}, true, true},
		{"trailing empty lines added", func(s string) string { return s + "\r\n\r\n" }, true, true},
		{"line ends become LF", func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }, true, true},
	}
	for _, canon := range []Canonicalization{Simple, Relaxed} {
		signed := signWith(t, sampleMessage, SignOptions{
			Domain: "example.com", Selector: "sel", Key: ek,
			HeaderCanon: canon, BodyCanon: canon,
		})
		for _, ch := range changes {
			t.Run(string(canon)+"/"+ch.name, func(t *testing.T) {
				res := verify(t, []byte(ch.edit(signed)), z)
				require.Len(t, res, 1)
				want := ch.relaxed
				if canon == Simple {
					want = ch.simple
				}
				if want {
					require.Equal(t, Pass, res[0].Status, "%v", res[0].Err)
				} else {
					require.NotEqual(t, Pass, res[0].Status)
				}
			})
		}
	}
}

// RFC 8301 §3.1: rsa-sha1 is a permanent failure with its own reason.
func TestRSASHA1Refused(t *testing.T) {
	msg := "DKIM-Signature: v=1; a=rsa-sha1; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA\r\n" +
		"From: a@example.com\r\n\r\nbody\r\n"
	res := verify(t, []byte(msg), zone{})
	require.Len(t, res, 1)
	require.Equal(t, PermError, res[0].Status)
	require.ErrorIs(t, res[0].Err, ErrSHA1)
	require.Equal(t, RSASHA1, res[0].Signature.Algorithm)
}

// RFC 8301 §3.2: an RSA key under 1024 bits is a permanent failure.
func TestShortRSAKeyRefused(t *testing.T) {
	_, rk := rfc8463Keys(t)
	msg := signWith(t, sampleMessage, SignOptions{Domain: "example.com", Selector: "sel", Key: rk})
	n := new(big.Int).Lsh(big.NewInt(1), 511)
	n.Add(n, big.NewInt(1))
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: 65537})
	require.NoError(t, err)
	z := zone{"sel._domainkey.example.com": {"v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)}}
	res := verify(t, []byte(msg), z)
	require.Equal(t, PermError, res[0].Status)
	require.ErrorIs(t, res[0].Err, ErrKeyTooSmall)

	// The signer refuses such keys too.
	_, err = NewSigner(&SignOptions{Domain: "example.com", Selector: "s", Key: shortKey{&rsa.PublicKey{N: n, E: 65537}}})
	require.ErrorIs(t, err, ErrKeyTooSmall)

	// And the 1024-bit key of RFC 8463 verifies.
	rec, _ := KeyRecordFor(rk.Public())
	res = verify(t, []byte(msg), zone{"sel._domainkey.example.com": {rec}})
	require.Equal(t, Pass, res[0].Status, "%v", res[0].Err)
}

type shortKey struct{ pub *rsa.PublicKey }

func (k shortKey) Public() crypto_PublicKey { return k.pub }
func (k shortKey) Sign(_ io_Reader, _ []byte, _ crypto_SignerOpts) ([]byte, error) {
	return nil, fmt.Errorf("not used")
}

// l= is reported, and content past it makes the result Policy, never Pass
// (RFC 6376 §8.2).
func TestBodyLengthLimit(t *testing.T) {
	ek, _ := rfc8463Keys(t)
	rec, _ := KeyRecordFor(ek.Public())
	z := zone{"sel._domainkey.example.com": {rec}}
	// Sign with l= by hand: the Signer never emits it.
	body := "Hi.\r\n"
	hdr := "From: a@example.com\r\n"
	bh := sha256.Sum256([]byte(body))
	unsigned := "DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple; d=example.com; s=sel; h=from; l=5; bh=" +
		base64.StdEncoding.EncodeToString(bh[:]) + "; b="
	sum := sha256.Sum256([]byte(hdr + unsigned))
	sig, err := ek.Sign(nil, sum[:], cryptoHash0)
	require.NoError(t, err)
	signed := unsigned + base64.StdEncoding.EncodeToString(sig) + "\r\n" + hdr + "\r\n" + body

	res := verify(t, []byte(signed), z)
	require.Equal(t, Pass, res[0].Status, "%v", res[0].Err)
	require.EqualValues(t, 5, res[0].Signature.BodyLength)
	require.Zero(t, res[0].UnsignedBytes())

	res = verify(t, []byte(signed+"Click here: http://evil.example/\r\n"), z)
	require.Equal(t, Policy, res[0].Status)
	require.EqualValues(t, 34, res[0].UnsignedBytes())
}

// Several signatures are verified independently; each has its own result.
func TestMultipleSignatures(t *testing.T) {
	ek, rk := rfc8463Keys(t)
	erec, _ := KeyRecordFor(ek.Public())
	rrec, _ := KeyRecordFor(rk.Public())
	z := zone{"e._domainkey.example.com": {erec}, "r._domainkey.example.org": {rrec}}
	once := signWith(t, sampleMessage, SignOptions{Domain: "example.com", Selector: "e", Key: ek, BodyCanon: Simple})
	twice := signWith(t, once, SignOptions{Domain: "example.org", Selector: "r", Key: rk, Headers: []string{"From", "DKIM-Signature"}})
	res := verify(t, []byte(twice), z)
	require.Len(t, res, 2)
	require.Equal(t, "example.org", res[0].Signature.Domain)
	require.Equal(t, Pass, res[0].Status, "%v", res[0].Err)
	require.Equal(t, Pass, res[1].Status, "%v", res[1].Err)

	// Break the inner one only: the outer signed it, so both fail.
	broken := strings.Replace(twice, "c=relaxed/simple", "c=relaxed/relaxed", 1)
	res = verify(t, []byte(broken), z)
	require.NotEqual(t, Pass, res[0].Status)
	require.NotEqual(t, Pass, res[1].Status)

	// A garbage third signature does not disturb the other two.
	res = verify(t, []byte("DKIM-Signature: v=1; a=rsa-sha256; bogus\r\n"+twice), z)
	require.Len(t, res, 3)
	require.Equal(t, PermError, res[0].Status)
	require.Equal(t, Pass, res[1].Status)
	require.Equal(t, Pass, res[2].Status)
}

func TestLimits(t *testing.T) {
	ek, _ := rfc8463Keys(t)
	rec, _ := KeyRecordFor(ek.Public())
	z := zone{"sel._domainkey.example.com": {rec}}
	msg := signWith(t, sampleMessage, SignOptions{Domain: "example.com", Selector: "sel", Key: ek})
	for range 3 {
		msg = signWith(t, msg, SignOptions{Domain: "example.com", Selector: "sel", Key: ek})
	}
	res, err := Verify(context.Background(), strings.NewReader(msg), &VerifyOptions{Resolver: z, MaxSignatures: 2})
	require.NoError(t, err)
	require.Len(t, res, 4)
	require.Equal(t, Pass, res[0].Status, "%v", res[0].Err)
	require.Equal(t, Pass, res[1].Status, "%v", res[1].Err)
	require.ErrorIs(t, res[2].Err, ErrTooMany)

	res, err = Verify(context.Background(), strings.NewReader(msg), &VerifyOptions{Resolver: z, MaxHeaderBytes: 100})
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.ErrorIs(t, res[0].Err, ErrHeaderTooLarge)

	// Built to make field selection expensive: many fields, long h=.
	many := strings.Repeat("X: y\r\n", maxFields) + msg
	res, err = Verify(context.Background(), strings.NewReader(many), &VerifyOptions{Resolver: z})
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.ErrorIs(t, res[0].Err, ErrHeaderTooLarge)
	_, err = NewSigner(&SignOptions{Domain: "example.com", Selector: "sel", Key: ek})
	require.NoError(t, err)
	longH := "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=sel; bh=; b=; h=from" +
		strings.Repeat(":x", maxSignedNames) + "\r\nFrom: a@example.com\r\n\r\n"
	res, err = Verify(context.Background(), strings.NewReader(longH), &VerifyOptions{Resolver: z})
	require.NoError(t, err)
	require.Equal(t, PermError, res[0].Status)
	require.ErrorIs(t, res[0].Err, ErrSyntax)
}

func TestExpired(t *testing.T) {
	ek, _ := rfc8463Keys(t)
	rec, _ := KeyRecordFor(ek.Public())
	z := zone{"sel._domainkey.example.com": {rec}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	msg := signWith(t, sampleMessage, SignOptions{Domain: "example.com", Selector: "sel", Key: ek,
		Expiration: time.Hour, Now: func() time.Time { return now }})
	res, err := Verify(context.Background(), strings.NewReader(msg), &VerifyOptions{Resolver: z, Now: func() time.Time { return now.Add(time.Minute) }})
	require.NoError(t, err)
	require.Equal(t, Pass, res[0].Status, "%v", res[0].Err)
	res, err = Verify(context.Background(), strings.NewReader(msg), &VerifyOptions{Resolver: z, Now: func() time.Time { return now.Add(2 * time.Hour) }})
	require.NoError(t, err)
	require.Equal(t, PermError, res[0].Status)
	require.ErrorIs(t, res[0].Err, ErrExpired)
}

// Over-signing lists each name once more than it appears.
func TestOverSignedHeaderList(t *testing.T) {
	ek, _ := rfc8463Keys(t)
	msg := signWith(t, sampleMessage, SignOptions{Domain: "example.com", Selector: "sel", Key: ek,
		Headers: []string{"From", "To", "Reply-To"}})
	sig, err := ParseSignature(msg[len("DKIM-Signature:"):strings.Index(msg, "Received:")])
	require.NoError(t, err)
	require.Equal(t, []string{"From", "From", "To", "To", "Reply-To"}, sig.Headers)
	msg = signWith(t, sampleMessage, SignOptions{Domain: "example.com", Selector: "sel", Key: ek,
		Headers: []string{"From", "To", "Reply-To", "from"}, NoOverSign: true})
	sig, err = ParseSignature(msg[len("DKIM-Signature:"):strings.Index(msg, "Received:")])
	require.NoError(t, err)
	require.Equal(t, []string{"From", "To"}, sig.Headers)
}

// A message that is all header (no blank line) still verifies.
func TestHeaderOnlyMessage(t *testing.T) {
	ek, _ := rfc8463Keys(t)
	rec, _ := KeyRecordFor(ek.Public())
	z := zone{"sel._domainkey.example.com": {rec}}
	for _, canon := range []Canonicalization{Simple, Relaxed} {
		msg := signWith(t, "From: a@example.com\r\nSubject: x", SignOptions{Domain: "example.com", Selector: "sel", Key: ek, BodyCanon: canon, HeaderCanon: canon})
		res := verify(t, []byte(msg), z)
		require.Equal(t, Pass, res[0].Status, "%s: %v", canon, res[0].Err)
	}
}

func TestSignOptionsRejectInjection(t *testing.T) {
	ek, _ := rfc8463Keys(t)
	for _, o := range []SignOptions{
		{Domain: "example.com; x=1", Selector: "s", Key: ek},
		{Domain: "example.com", Selector: "s\r\nBcc: x", Key: ek},
		{Domain: "example.com", Selector: "s", Key: ek, Identifier: "a;b@example.com"},
		{Domain: "example.com", Selector: "s", Key: ek, Identifier: "a@example.net"},
		{Domain: "example.com", Selector: "s", Key: ek, Headers: []string{"From", "To\r\nX"}},
		{Domain: "example.com", Selector: "s", Key: ek, HeaderCanon: "nowsp"},
		{Domain: "example.com", Selector: "s"},
	} {
		_, err := NewSigner(&o)
		require.Error(t, err, "%+v", o)
	}
}

type (
	crypto_PublicKey  = crypto.PublicKey
	crypto_SignerOpts = crypto.SignerOpts
	io_Reader         = io.Reader
)

const cryptoHash0 = crypto.Hash(0)

// SignReaderAt, SignStored and Sign (through its file spool) give
// the same signed message.
func TestSignPathsAgree(t *testing.T) {
	ek, _ := rfc8463Keys(t)
	now := func() time.Time { return time.Unix(1700000000, 0) }
	opts := SignOptions{Domain: "example.com", Selector: "sel", Key: ek, Now: now}
	big := sampleMessage + strings.Repeat("a line of body text to pass the spool limit\r\n", 30000)
	for _, msg := range []string{sampleMessage, big} {
		var a, b, c bytes.Buffer
		o := opts
		require.NoError(t, Sign(&a, strings.NewReader(msg), &o))
		require.NoError(t, SignReaderAt(&b, strings.NewReader(msg), int64(len(msg)), &o))
		st, err := SignStored(strings.NewReader(msg), int64(len(msg)), &o)
		require.NoError(t, err)
		_, err = io.Copy(&c, io.NewSectionReader(st, 0, st.Size()))
		require.NoError(t, err)
		// Reads straddling the field's end.
		buf := make([]byte, 10)
		off := int64(len(st.Field()) - 4)
		n, err := st.ReadAt(buf, off)
		require.NoError(t, err)
		require.Equal(t, a.String()[off:off+int64(n)], string(buf[:n]))
		require.Equal(t, a.String(), b.String())
		require.Equal(t, a.String(), c.String())
		require.True(t, strings.HasSuffix(a.String(), msg))
	}
}

// Verifying keeps constant memory: what it allocates does not grow with
// the body (the 50 MB figure is in internal/bench).
func TestVerifyMemoryDoesNotGrowWithBody(t *testing.T) {
	ek, _ := rfc8463Keys(t)
	rec, _ := KeyRecordFor(ek.Public())
	z := zone{"sel._domainkey.example.com": {rec}}
	line := []byte("a line of body text, as long as an ordinary line of mail is.\r\n")
	allocs := func(lines int) uint64 {
		s, err := NewSigner(&SignOptions{Domain: "example.com", Selector: "sel", Key: ek})
		require.NoError(t, err)
		s.Write([]byte(sampleMessage))
		for range lines {
			s.Write(line)
		}
		require.NoError(t, s.Close())
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		v := NewVerifier(context.Background(), &VerifyOptions{Resolver: z})
		v.Write([]byte(s.Field()))
		v.Write([]byte(sampleMessage))
		for range lines {
			v.Write(line)
		}
		require.NoError(t, v.Close())
		runtime.ReadMemStats(&after)
		require.Equal(t, Pass, v.Results()[0].Status, "%v", v.Results()[0].Err)
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := allocs(10), allocs(100000) // 6.4 MB of body
	t.Logf("allocated %d bytes for a short body, %d for 6.4 MB", small, large)
	require.Less(t, large, small+64<<10)
}
