package sasl

import (
	"crypto/tls"
	"net"
	"sync/atomic"
)

// Channel-binding types (RFC 5056, RFC 5929 §3, RFC 9266 §2).
const (
	TLSUnique   = "tls-unique"
	TLSExporter = "tls-exporter"
)

// ChannelBinding is the channel-binding data of one TLS connection, used by
// the SCRAM -PLUS mechanisms (RFC 5802 §6).
//
// RFC 9266 §4.1 forbids using the binding for more than one authentication
// mechanism instance on a TLS connection. A ChannelBinding enforces this: the
// first -PLUS exchange that uses it (Registry.NewServer, NewSCRAMClient)
// consumes it, and later ones fail with ErrChannelBinding and are no longer
// offered by Registry.Offer or chosen by Choose. Make one ChannelBinding per
// connection (ChannelBindingFromTLS after the handshake), keep the pointer in
// the connection's ConnState, and do not copy the struct after first use.
type ChannelBinding struct {
	// Type is the channel-binding type: "tls-exporter" or "tls-unique".
	Type string
	// Data is the channel-binding data (RFC 5802 §7 cbind-data).
	Data []byte

	used atomic.Bool
}

// use marks cb consumed and reports whether it was fresh.
func (cb *ChannelBinding) use() bool { return cb != nil && cb.used.CompareAndSwap(false, true) }

// Usable reports whether cb is non-nil, has data and was not consumed by an
// earlier -PLUS exchange.
func (cb *ChannelBinding) Usable() bool {
	return cb != nil && cb.Type != "" && len(cb.Data) > 0 && !cb.used.Load()
}

// ChannelBindingFromTLS returns the channel binding of a completed TLS
// handshake, or nil when there is none to use:
//
//   - TLS 1.3: "tls-exporter" (RFC 9266 §2), 32 bytes exported with the label
//     "EXPORTER-Channel-Binding" and an empty context.
//   - TLS 1.2: "tls-unique" (RFC 5929 §3), which RFC 9266 §3 keeps as the
//     default there, when crypto/tls provides it. crypto/tls withholds it on
//     resumed sessions without Extended Master Secret (RFC 7627), where it
//     would not be unique; then nil. tls-exporter is not used on TLS 1.2:
//     RFC 9266 §2 defines it there only with Extended Master Secret, and
//     TLS 1.2 peers expect tls-unique.
//   - anything older, or an incomplete handshake: nil.
//
// Each call returns a fresh ChannelBinding; call it once per connection (see
// ChannelBinding for the single-use rule).
func ChannelBindingFromTLS(cs *tls.ConnectionState) *ChannelBinding {
	if cs == nil || !cs.HandshakeComplete {
		return nil
	}
	switch {
	case cs.Version >= tls.VersionTLS13:
		data, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
		if err != nil || len(data) == 0 {
			return nil
		}
		return &ChannelBinding{Type: TLSExporter, Data: data}
	case cs.Version == tls.VersionTLS12:
		if len(cs.TLSUnique) == 0 {
			return nil
		}
		return &ChannelBinding{Type: TLSUnique, Data: append([]byte(nil), cs.TLSUnique...)}
	}
	return nil
}

// ConnState describes the connection an exchange runs on. Protocol servers
// fill it once per connection and update it after STARTTLS.
type ConnState struct {
	// TLS reports whether the connection is protected by TLS (implicit TLS
	// or after STARTTLS).
	TLS bool
	// ChannelBinding is the connection's channel binding, or nil. -PLUS
	// mechanisms are offered only when it is usable.
	ChannelBinding *ChannelBinding
	// RemoteAddr is the client's address (after PROXY protocol), passed
	// to credential backends that want it through the context (see
	// ConnStateFromContext). Optional.
	RemoteAddr net.Addr
	// TLSState is the TLS connection state, used by EXTERNAL with client
	// certificates. Optional.
	TLSState *tls.ConnectionState
}
