package sasl

import (
	"bytes"
	"crypto/tls"
	"testing"
)

// ChannelBindingFromTLS over real TLS connections on 127.0.0.1: both ends
// compute the same data, of the type RFC 9266 §3 / RFC 5929 §3 assigns to
// the TLS version.
func TestChannelBindingFromTLS(t *testing.T) {
	tests := []struct {
		name    string
		version uint16
		typ     string
		size    int
	}{
		{"TLS 1.3", tls.VersionTLS13, TLSExporter, 32},
		{"TLS 1.2", tls.VersionTLS12, TLSUnique, 12}, // RFC 5246 §7.4.9 verify_data
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := tls.NewLRUClientSessionCache(4)
			p := dialTLS(t, tt.version, nil, cache)
			c, s := ChannelBindingFromTLS(&p.client), ChannelBindingFromTLS(&p.server)
			if c == nil || s == nil {
				t.Fatalf("no channel binding: client %v server %v", c, s)
			}
			if c.Type != tt.typ || s.Type != tt.typ || len(c.Data) != tt.size {
				t.Fatalf("got %s/%d bytes, want %s/%d", c.Type, len(c.Data), tt.typ, tt.size)
			}
			if !bytes.Equal(c.Data, s.Data) {
				t.Fatal("client and server channel bindings differ")
			}
			// Another connection has other data.
			q := dialTLS(t, tt.version, nil, nil)
			if bytes.Equal(ChannelBindingFromTLS(&q.client).Data, c.Data) {
				t.Fatal("two connections share channel-binding data")
			}
		})
	}
}

func TestChannelBindingFromTLSNone(t *testing.T) {
	if ChannelBindingFromTLS(nil) != nil {
		t.Error("nil state gave a binding")
	}
	if ChannelBindingFromTLS(&tls.ConnectionState{Version: tls.VersionTLS13}) != nil {
		t.Error("incomplete handshake gave a binding")
	}
	// crypto/tls leaves TLSUnique nil on a resumed TLS 1.2 session without
	// Extended Master Secret (RFC 7627); there is then nothing to bind to.
	if ChannelBindingFromTLS(&tls.ConnectionState{Version: tls.VersionTLS12, HandshakeComplete: true}) != nil {
		t.Error("TLS 1.2 without tls-unique gave a binding")
	}
	if ChannelBindingFromTLS(&tls.ConnectionState{Version: tls.VersionTLS11, HandshakeComplete: true, TLSUnique: []byte{1}}) != nil {
		t.Error("TLS 1.1 gave a binding")
	}
	var cb *ChannelBinding
	if cb.Usable() {
		t.Error("nil binding usable")
	}
}
