package dkim

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// FuzzParseSignature: the DKIM-Signature tag-list parser never panics and
// stays within its bounds.
func FuzzParseSignature(f *testing.F) {
	f.Add(" v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n d=football.example.com; i=@football.example.com;\r\n q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n subject : date : message-id : from : subject : date;\r\n bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==")
	f.Add("v=1; a=rsa-sha1; d=a; s=b; h=from; bh=; b=; l=12; x=5; t=4")
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignature(s)
		if err == nil && (sig.Domain == "" || len(sig.Headers) == 0) {
			t.Fatalf("accepted without d= or h=: %q", s)
		}
	})
}

// FuzzParseKeyRecord: the key-record parser never panics.
func FuzzParseKeyRecord(f *testing.F) {
	f.Add("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
	f.Add("v=DKIM1; k=rsa; h=sha1:sha256; s=email:*; t=y:s; n=notes; p=")
	f.Add("v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKeyRecord(s)
		if err == nil && k.KeyType != "rsa" && k.KeyType != "ed25519" && !k.Revoked() {
			t.Fatalf("accepted key type %q", k.KeyType)
		}
	})
}

// FuzzVerify: whole messages, split at an arbitrary point, never panic,
// and the split does not change the results.
func FuzzVerify(f *testing.F) {
	msg, err := os.ReadFile("testdata/rfc8463.eml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg, 100)
	f.Add([]byte("DKIM-Signature: v=1; a=ed25519-sha256; d=a; s=b; h=from; bh=; b=; l=1\r\nFrom: x\r\n\r\n \t\r\r\n\n"), 3)
	f.Fuzz(func(t *testing.T, msg []byte, split int) {
		if split < 0 || split > len(msg) {
			split = len(msg) / 2
		}
		run := func(parts ...[]byte) []Result {
			v := NewVerifier(context.Background(), &VerifyOptions{Resolver: rfc8463Zone})
			for _, p := range parts {
				v.Write(p)
			}
			v.Close()
			return v.Results()
		}
		a, b := run(msg), run(msg[:split], msg[split:])
		if len(a) != len(b) {
			t.Fatalf("%d results whole, %d split", len(a), len(b))
		}
		for i := range a {
			if a[i].Status != b[i].Status || a[i].BodyLength != b[i].BodyLength {
				t.Fatalf("result %d: %s/%d whole, %s/%d split", i, a[i].Status, a[i].BodyLength, b[i].Status, b[i].BodyLength)
			}
		}
	})
}

// FuzzBodyCanon: the streaming canonicalizer gives the same bytes however
// the body is split.
func FuzzBodyCanon(f *testing.F) {
	f.Add([]byte(" C \r\nD \t E\r\n\r\n\r\n"), 5, true)
	f.Add([]byte("a\rb\r\r\n\n \n"), 2, false)
	f.Fuzz(func(t *testing.T, body []byte, split int, relaxed bool) {
		c := Simple
		if relaxed {
			c = Relaxed
		}
		if split < 0 || split > len(body) {
			split = len(body) / 2
		}
		var whole, parts bytes.Buffer
		bc := newBodyCanon(c, nopHash{&whole}, -1)
		bc.Write(body)
		bc.finish()
		bc = newBodyCanon(c, nopHash{&parts}, -1)
		bc.Write(body[:split])
		bc.Write(body[split:])
		bc.finish()
		if whole.String() != parts.String() {
			t.Fatalf("split at %d: %q vs %q", split, whole.String(), parts.String())
		}
	})
}
