package dkim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// zone is a Resolver over a map, for tests.
type zone map[string][]string

func (z zone) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, ok := z[strings.ToLower(name)]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	if len(v) == 1 && v[0] == "SERVFAIL" {
		return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
	}
	return v, nil
}

// RFC 8463 Appendix A.
const (
	rfc8463Ed25519Seed = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
	rfc8463RSAKey      = `-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi
Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM
KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB
AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm
6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe
zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy
6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc
uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy
WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd
WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a
licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst
o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe
uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL
-----END RSA PRIVATE KEY-----`
)

var rfc8463Zone = zone{
	"brisbane._domainkey.football.example.com": {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="},
	"test._domainkey.football.example.com": {"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR" +
		"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC" +
		"DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3" +
		"Ip3G+2kryOTIKT+l/K4w3QIDAQAB"},
}

func rfc8463Keys(t testing.TB) (ed25519.PrivateKey, *rsa.PrivateKey) {
	seed, err := base64.StdEncoding.DecodeString(rfc8463Ed25519Seed)
	require.NoError(t, err)
	blk, _ := pem.Decode([]byte(rfc8463RSAKey))
	rk, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	require.NoError(t, err)
	return ed25519.NewKeyFromSeed(seed), rk
}

func verify(t testing.TB, msg []byte, z Resolver) []Result {
	t.Helper()
	res, err := Verify(context.Background(), bytes.NewReader(msg), &VerifyOptions{Resolver: z})
	require.NoError(t, err)
	return res
}

// RFC 8463 Appendix A.3: both signatures of the example message verify.
func TestRFC8463Vectors(t *testing.T) {
	msg, err := os.ReadFile("testdata/rfc8463.eml")
	require.NoError(t, err)
	res := verify(t, msg, rfc8463Zone)
	require.Len(t, res, 2)
	for _, r := range res {
		require.Equal(t, Pass, r.Status, "%s: %v", r.Signature.Algorithm, r.Err)
	}
	require.Equal(t, Ed25519SHA256, res[0].Signature.Algorithm)
	require.Equal(t, RSASHA256, res[1].Signature.Algorithm)

	// The same bytes written one at a time: the streaming state machines
	// must not depend on how writes split the message.
	v := NewVerifier(context.Background(), &VerifyOptions{Resolver: rfc8463Zone})
	for i := range msg {
		v.Write(msg[i : i+1])
	}
	require.NoError(t, v.Close())
	for _, r := range v.Results() {
		require.Equal(t, Pass, r.Status, "%v", r.Err)
	}

	// The public key of A.2 is the one of the secret key of A.1.
	ek, rk := rfc8463Keys(t)
	rec, err := KeyRecordFor(ek.Public())
	require.NoError(t, err)
	require.Equal(t, rfc8463Zone["brisbane._domainkey.football.example.com"][0], rec)
	rec, err = KeyRecordFor(rk.Public())
	require.NoError(t, err)
	require.Equal(t, rfc8463Zone["test._domainkey.football.example.com"][0], rec)
}

// RFC 8463 A.3 signed again with the A.1 keys: Ed25519 is deterministic,
// so the same header list and timestamp give the same b= as the RFC.
func TestRFC8463SignReproducesVector(t *testing.T) {
	msg, err := os.ReadFile("testdata/rfc8463.eml")
	require.NoError(t, err)
	unsigned := msg[bytes.Index(msg, []byte("From: ")):]
	ek, _ := rfc8463Keys(t)
	s, err := NewSigner(&SignOptions{
		Domain: "football.example.com", Selector: "brisbane", Key: ek,
		Identifier: "@football.example.com",
		Headers:    []string{"from", "to", "subject", "date", "message-id"},
		NoOverSign: true,
		Now:        func() time.Time { return time.Unix(1528637909, 0) },
	})
	require.NoError(t, err)
	_, err = s.Write(unsigned)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	sig, err := ParseSignature(s.Field()[len("DKIM-Signature:"):])
	require.NoError(t, err)
	require.Equal(t, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=", base64.StdEncoding.EncodeToString(sig.BodyHash))
	res := verify(t, append([]byte(s.Field()), unsigned...), rfc8463Zone)
	require.Len(t, res, 1)
	require.Equal(t, Pass, res[0].Status, "%v", res[0].Err)
}

func TestTemporaryAndMissingKeys(t *testing.T) {
	ek, _ := rfc8463Keys(t)
	msg := "From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
	var out bytes.Buffer
	require.NoError(t, Sign(&out, strings.NewReader(msg), &SignOptions{Domain: "example.com", Selector: "s", Key: ek}))
	rec, _ := KeyRecordFor(ek.Public())
	for _, tc := range []struct {
		name   string
		z      zone
		status Status
		err    error
	}{
		{"pass", zone{"s._domainkey.example.com": {rec}}, Pass, nil},
		{"servfail", zone{"s._domainkey.example.com": {"SERVFAIL"}}, TempError, ErrTemporary},
		{"nxdomain", zone{}, PermError, ErrNoKey},
		{"revoked", zone{"s._domainkey.example.com": {"v=DKIM1; k=ed25519; p="}}, PermError, ErrKeyRevoked},
		{"wrong key type", zone{"s._domainkey.example.com": {strings.Replace(rec, "ed25519", "rsa", 1)}}, PermError, ErrSyntax},
		{"h=sha1 only", zone{"s._domainkey.example.com": {rec + "; h=sha1"}}, PermError, ErrKeyMismatch},
		{"s=other service", zone{"s._domainkey.example.com": {rec + "; s=other"}}, PermError, ErrKeyMismatch},
		{"s=email", zone{"s._domainkey.example.com": {rec + "; s=email"}}, Pass, nil},
		{"garbage record", zone{"s._domainkey.example.com": {"hello world"}}, PermError, ErrSyntax},
		{"v not first", zone{"s._domainkey.example.com": {"k=ed25519; v=DKIM1; p=" + rec[len("v=DKIM1; k=ed25519; p="):]}}, PermError, ErrSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := verify(t, out.Bytes(), tc.z)
			require.Len(t, res, 1)
			require.Equal(t, tc.status, res[0].Status, "%v", res[0].Err)
			if tc.err != nil {
				require.ErrorIs(t, res[0].Err, tc.err)
			}
		})
	}
}

func TestTestingAndStrictFlags(t *testing.T) {
	ek, _ := rfc8463Keys(t)
	rec, _ := KeyRecordFor(ek.Public())
	msg := "From: a@example.com\r\n\r\nbody\r\n"
	var out bytes.Buffer
	require.NoError(t, Sign(&out, strings.NewReader(msg), &SignOptions{Domain: "example.com", Selector: "s", Key: ek, Identifier: "@mail.example.com"}))
	res := verify(t, out.Bytes(), zone{"s._domainkey.example.com": {rec + "; t=y"}})
	require.Equal(t, Pass, res[0].Status)
	require.True(t, res[0].Testing)
	// t=s: i= must not be a subdomain of d=.
	res = verify(t, out.Bytes(), zone{"s._domainkey.example.com": {rec + "; t=y:s"}})
	require.Equal(t, PermError, res[0].Status)
	require.ErrorIs(t, res[0].Err, ErrKeyMismatch)
}

func TestContextCancelledIsTempError(t *testing.T) {
	msg, err := os.ReadFile("testdata/rfc8463.eml")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Verify(ctx, bytes.NewReader(msg), &VerifyOptions{Resolver: rfc8463Zone})
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, TempError, r.Status)
		require.True(t, errors.Is(r.Err, ErrTemporary))
	}
}

// A large body starts the key lookups in the background; they still
// honour the context, and the results are the same.
func TestBackgroundLookups(t *testing.T) {
	ek, _ := rfc8463Keys(t)
	rec, _ := KeyRecordFor(ek.Public())
	z := zone{"s._domainkey.example.com": {rec}}
	msg := "From: a@example.com\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 10000)
	var out bytes.Buffer
	require.NoError(t, Sign(&out, strings.NewReader(msg), &SignOptions{Domain: "example.com", Selector: "s", Key: ek}))
	v := NewVerifier(context.Background(), &VerifyOptions{Resolver: z})
	v.Write(out.Bytes()[:lookupAhead+4096])
	require.True(t, v.lookingUp)
	v.Write(out.Bytes()[lookupAhead+4096:])
	require.NoError(t, v.Close())
	require.Equal(t, Pass, v.Results()[0].Status, "%v", v.Results()[0].Err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Verify(ctx, &out, &VerifyOptions{Resolver: z})
	require.NoError(t, err)
	require.Equal(t, TempError, res[0].Status)
}
