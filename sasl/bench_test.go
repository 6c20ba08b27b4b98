package sasl

import (
	"context"
	"testing"
)

// BenchmarkSCRAMSHA256Exchange runs a full SCRAM-SHA-256 exchange at 4096
// iterations, client and server in one goroutine: the client derives
// SaltedPassword (PBKDF2), the server only HMACs with stored keys. Bytes are
// the four messages on the wire.
func BenchmarkSCRAMSHA256Exchange(b *testing.B) {
	benchSCRAM(b, SHA256, false)
}

// BenchmarkSCRAMSHA256PlusExchange is the -PLUS variant with tls-exporter
// style channel binding data.
func BenchmarkSCRAMSHA256PlusExchange(b *testing.B) {
	benchSCRAM(b, SHA256, true)
}

// BenchmarkSCRAMSHA1Exchange is SCRAM-SHA-1 at 4096 iterations.
func BenchmarkSCRAMSHA1Exchange(b *testing.B) {
	benchSCRAM(b, SHA1, false)
}

func benchSCRAM(b *testing.B, h SCRAMHash, plus bool) {
	keys, err := NewSCRAMKeys(h, "pencil", []byte("0123456789abcdef"), 4096)
	if err != nil {
		b.Fatal(err)
	}
	reg := &Registry{Credentials: &testCreds{scram: map[string]map[SCRAMHash]SCRAMKeys{"user": {h: keys}}}}
	mech := scramMechName(h, plus)
	ctx := context.Background()
	data := make([]byte, 32)
	b.ReportAllocs()
	var wire int64
	for b.Loop() {
		cs := ConnState{TLS: true}
		var ccb *ChannelBinding
		if plus {
			cs.ChannelBinding = &ChannelBinding{Type: TLSExporter, Data: data}
			ccb = &ChannelBinding{Type: TLSExporter, Data: data}
		}
		srv, err := reg.NewServer(mech, cs)
		if err != nil {
			b.Fatal(err)
		}
		cl, err := NewSCRAMClient(SCRAMOptions{Hash: h, Username: "user", Password: "pencil", Plus: plus, ChannelBinding: ccb})
		if err != nil {
			b.Fatal(err)
		}
		_, resp, _ := cl.Start()
		n := int64(len(resp))
		for {
			ch, done, err := srv.Next(ctx, resp)
			if err != nil {
				b.Fatal(err)
			}
			if done {
				break
			}
			n += int64(len(ch))
			if resp, err = cl.Next(ch); err != nil {
				b.Fatal(err)
			}
			n += int64(len(resp))
		}
		wire = n
	}
	b.SetBytes(wire)
}

// BenchmarkPlainServer is PLAIN against a PasswordVerifier: parsing and
// SASLprep on ASCII.
func BenchmarkPlainServer(b *testing.B) {
	reg := &Registry{Credentials: verifierFunc(func(ctx context.Context, u, p string) error { return nil })}
	msg := []byte("\x00user@example.org\x00correct horse battery staple")
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		srv, _ := reg.NewServer(Plain, ConnState{TLS: true})
		if _, done, err := srv.Next(ctx, msg); !done || err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSASLprep measures preparation of a non-ASCII password.
func BenchmarkSASLprep(b *testing.B) {
	const s = "pässwörd\u00A0mit\u00ADLeerzeichen"
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := SASLprepQuery(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSCRAMSHA256Server is the server's share of an exchange (stored
// keys, no PBKDF2), replaying the RFC 7677 §3 messages with its fixed
// nonces: what a server pays per SCRAM login.
func BenchmarkSCRAMSHA256Server(b *testing.B) {
	salt, _ := b64.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	keys, err := NewSCRAMKeys(SHA256, "pencil", salt, 4096)
	if err != nil {
		b.Fatal(err)
	}
	reg := &Registry{Credentials: &testCreds{scram: map[string]map[SCRAMHash]SCRAMKeys{"user": {SHA256: keys}}}}
	first := []byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
	final := []byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(first) + len(final)))
	for b.Loop() {
		srv, _ := reg.NewServer(SCRAMSHA256, ConnState{})
		srv.(*scramServer).fixedSNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
		if _, _, err := srv.Next(ctx, first); err != nil {
			b.Fatal(err)
		}
		if _, _, err := srv.Next(ctx, final); err != nil {
			b.Fatal(err)
		}
		if _, done, err := srv.Next(ctx, []byte{}); !done || err != nil {
			b.Fatal(err)
		}
	}
}
