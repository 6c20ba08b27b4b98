package sasl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets for every server-side parser (and the client-side parsers of
// server messages). Each checks that arbitrary input neither panics nor
// authenticates, within the message limit.

func fuzzRegistry(t testing.TB) *Registry {
	creds := newTestCreds(t, map[string]string{"user": "pencil"})
	creds.tokens["good"] = "user"
	return &Registry{Credentials: creds, Mechanisms: append([]string{CRAMMD5, Anonymous}, DefaultMechanisms...), MaxMessage: 4096}
}

// fuzzOne feeds msg as the first response (and, when it contains "\n", the
// rest as later responses) to a fresh server.
func fuzzOne(t *testing.T, reg *Registry, mech string, cs ConnState, msg []byte) {
	srv, err := reg.NewServer(mech, cs)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	parts := strings.Split(string(msg), "\n")
	for i, p := range parts {
		ch, done, err := srv.Next(ctx, []byte(p))
		if err != nil {
			return
		}
		if done {
			if len(ch) != 0 {
				t.Fatalf("done with challenge %q", ch)
			}
			id := srv.Identity()
			if id.Username == "" || id.Mechanism != mech {
				t.Fatalf("success without identity: %+v", id)
			}
			return
		}
		if i == len(parts)-1 {
			return
		}
	}
}

func FuzzPlainServer(f *testing.F) {
	for _, s := range []string{"\x00user\x00pencil", "user\x00user\x00pencil", "\x00user\x00", "\x00\x00", "a\x00b\x00c\x00d", "\xff\x00u\x00p", ""} {
		f.Add([]byte(s))
	}
	reg := fuzzRegistry(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		z, c, p, err := ParsePlain(msg)
		if err == nil && (c == "" || p == "" || strings.ContainsRune(z+c+p, 0)) {
			t.Fatalf("ParsePlain accepted %q", msg)
		}
		fuzzOne(t, reg, Plain, ConnState{TLS: true}, msg)
	})
}

func FuzzLoginServer(f *testing.F) {
	for _, s := range []string{"user\npencil", "\npencil", "user\n", "us\x00er\npencil", "a\nb\nc"} {
		f.Add([]byte(s))
	}
	reg := fuzzRegistry(f)
	f.Fuzz(func(t *testing.T, msg []byte) { fuzzOne(t, reg, Login, ConnState{TLS: true}, msg) })
}

func FuzzCRAMMD5Server(f *testing.F) {
	for _, s := range []string{"\nuser b913a602c7eda7a495b4e6e7334d3890", "\nuser", "\n b913a602c7eda7a495b4e6e7334d3890", "x\ny"} {
		f.Add([]byte(s))
	}
	reg := fuzzRegistry(f)
	f.Fuzz(func(t *testing.T, msg []byte) { fuzzOne(t, reg, CRAMMD5, ConnState{}, msg) })
}

func FuzzSCRAMServer(f *testing.F) {
	for _, s := range []string{
		"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
		"n,,n=user,r=abc\nc=biws,r=abcdef,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"y,a=us=2Cer,n=us=3Der,r=abc,ext=1",
		"p=tls-unique,,n=user,r=abc",
		"n,,m=x,n=user,r=abc",
		"n,,n=ghost,r=abc\nc=biws,r=abc,p=AAAA",
	} {
		f.Add([]byte(s))
	}
	reg := fuzzRegistry(f)
	f.Fuzz(func(t *testing.T, msg []byte) { fuzzOne(t, reg, SCRAMSHA256, ConnState{TLS: true}, msg) })
}

// FuzzSCRAMServerFinal runs a valid client-first message and fuzzes the
// client-final message, with the server nonce substituted for "NONCE".
func FuzzSCRAMServerFinal(f *testing.F) {
	for _, s := range []string{
		"c=biws,r=NONCE,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=biws,r=NONCE,x=y,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=eSws,r=NONCE,p=AAAA",
		"c=biws,r=NONCE",
		"r=NONCE,c=biws,p=",
	} {
		f.Add([]byte(s))
	}
	reg := fuzzRegistry(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		srv, _ := reg.NewServer(SCRAMSHA1, ConnState{TLS: true})
		ctx := context.Background()
		first, _, err := srv.Next(ctx, []byte("n,,n=user,r=abc"))
		if err != nil {
			t.Fatal(err)
		}
		nonce, _, _ := strings.Cut(strings.TrimPrefix(string(first), "r="), ",")
		final := strings.ReplaceAll(string(msg), "NONCE", nonce)
		ch, done, err := srv.Next(ctx, []byte(final))
		if done || (err == nil && !strings.HasPrefix(string(ch), "e=")) {
			// A valid proof cannot be guessed.
			t.Fatalf("accepted %q: %q %v", final, ch, err)
		}
	})
}

func FuzzOAuthBearerServer(f *testing.F) {
	for _, s := range []string{
		"n,a=user,\x01host=server.example.com\x01port=143\x01auth=Bearer good\x01\x01",
		"n,,\x01auth=\x01\x01",
		"\x01",
		"n,,\x01auth=Bearer bad\x01\x01\n\x01",
		"y,a=u=2Cser,\x01auth=bearer good\x01\x01",
	} {
		f.Add([]byte(s))
	}
	reg := fuzzRegistry(f)
	f.Fuzz(func(t *testing.T, msg []byte) { fuzzOne(t, reg, OAuthBearer, ConnState{TLS: true}, msg) })
}

func FuzzXOAuth2Server(f *testing.F) {
	for _, s := range []string{"user=user\x01auth=Bearer good\x01\x01", "user=\x01auth=\x01\x01", "auth=Bearer bad\x01\x01\n"} {
		f.Add([]byte(s))
	}
	reg := fuzzRegistry(f)
	f.Fuzz(func(t *testing.T, msg []byte) { fuzzOne(t, reg, XOAuth2, ConnState{TLS: true}, msg) })
}

func FuzzAnonymousServer(f *testing.F) {
	for _, s := range []string{"", "sirhc", "abuse@example.com", "\u0627\u0628", "a\u202e"} {
		f.Add([]byte(s))
	}
	reg := fuzzRegistry(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		if checkTrace(msg) == nil && (!utf8.Valid(msg) || utf8.RuneCount(msg) > anonymousMaxTrace) {
			t.Fatalf("trace %q accepted", msg)
		}
		fuzzOne(t, reg, Anonymous, ConnState{}, msg)
	})
}

func FuzzSASLprep(f *testing.F) {
	for _, s := range []string{"user", "I\u00ADX", "\u2168", "\u0627\u0031", "a\u00A0b", "\u0378", "\uFFFD", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, prep := range []func(string) (string, error){SASLprep, SASLprepQuery} {
			out, err := prep(s)
			if err != nil {
				continue
			}
			if !utf8.ValidString(out) {
				t.Fatalf("invalid UTF-8 output %+q", out)
			}
			// The output is stable: preparing it again changes nothing.
			again, err := prep(out)
			if err != nil || again != out {
				t.Fatalf("not idempotent: %+q -> %+q -> %+q (%v)", s, out, again, err)
			}
		}
	})
}

// FuzzSCRAMClient fuzzes the server-first and server-final messages a
// client parses ("NONCE" is replaced by the client nonce).
func FuzzSCRAMClient(f *testing.F) {
	for _, s := range []string{
		"r=NONCEx,s=QSXCR+Q6sek8bf92,i=4096\nv=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		"r=NONCEx,s=QSXCR+Q6sek8bf92,i=4096\ne=invalid-proof",
		"e=other-error",
		"m=x,r=NONCE,s=,i=1",
		"r=NONCEx,s=QSXCR+Q6sek8bf92,i=99999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		c, err := NewSCRAMClient(SCRAMOptions{Hash: SHA1, Username: "user", Password: "pencil", MaxIterations: 4096})
		if err != nil {
			t.Fatal(err)
		}
		c.Start()
		msg = strings.ReplaceAll(msg, "NONCE", c.(*scramClient).cnonce)
		for _, p := range strings.Split(msg, "\n") {
			if _, err := c.Next([]byte(p)); err != nil {
				break
			}
		}
		if c.(Completer).Complete() == nil {
			t.Fatalf("server authenticated itself with %q", msg)
		}
	})
}

func FuzzOAuthClient(f *testing.F) {
	for _, s := range []string{`{"status":"invalid_token","scope":"x"}`, `{}`, `[`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		c := NewOAuthBearerClient(OAuthOptions{Token: "t"})
		c.Start()
		r, err := c.Next([]byte(msg))
		if err == nil && string(r) != "\x01" && len(msg) != 0 {
			t.Fatalf("answer %q to %q", r, msg)
		}
	})
}

func FuzzExternalServer(f *testing.F) {
	for _, s := range []string{"", "tim", "root", "a\x00b", "\xff"} {
		f.Add([]byte(s))
	}
	reg := fuzzRegistry(f)
	cert, _ := testCert(f, "tim")
	cs := ConnState{TLS: true, TLSState: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Leaf}}}
	f.Fuzz(func(t *testing.T, msg []byte) {
		srv, err := reg.NewServer(External, cs)
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := srv.Next(context.Background(), msg)
		if done && (err != nil || srv.Identity().Username != "tim") {
			t.Fatalf("EXTERNAL %q: %+v %v", msg, srv.Identity(), err)
		}
		if done && len(msg) > 0 && string(msg) != "tim" {
			t.Fatalf("authzid %q accepted for tim", msg)
		}
	})
}

func FuzzParseSCRAMKeys(f *testing.F) {
	k, _ := NewSCRAMKeys(SHA1, "pencil", []byte("salt"), 4096)
	for _, s := range []string{k.String(), "SCRAM-SHA-1$4096:c2FsdA==$AA==:AA==", "SCRAM-SHA-256$1:$:", "$", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseSCRAMKeys(s)
		if err != nil {
			return
		}
		if k.Iterations < 1 || len(k.Salt) == 0 || len(k.StoredKey) != len(k.ServerKey) {
			t.Fatalf("accepted invalid keys %q: %+v", s, k)
		}
		if _, err := ParseSCRAMKeys(k.String()); err != nil {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}
