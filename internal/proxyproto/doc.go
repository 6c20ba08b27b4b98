// Package proxyproto reads the PROXY protocol header (versions 1 and 2, as
// specified by HAProxy in "The PROXY protocol", doc/proxy-protocol.txt) that
// a load balancer sends at the start of a connection to pass on the
// client's address.
//
// [NewListener] wraps a listener. A connection from an address inside one of
// the trusted prefixes must start with a PROXY header; its RemoteAddr and
// LocalAddr then report the client and the address the client connected
// to, so limits, logs and backends see the real client. A connection from
// anywhere else is returned untouched: its bytes are not looked at, so an
// untrusted client cannot forge its address with a header of its own (the
// header then reaches the protocol parser, which rejects it as a command).
//
// Implementation notes:
//
//   - Accept never reads from a connection. The header is read lazily, in
//     the goroutine that first calls Read, Write, RemoteAddr, LocalAddr or
//     [Conn.Header], under a deadline of Config.HeaderTimeout (or an
//     earlier read deadline the caller set). A slow or silent client
//     therefore holds up only its own goroutine, never Accept.
//   - No I/O passes a connection whose header is missing or malformed:
//     Read and Write return the *[HeaderError] (or the timeout) and the
//     server closes the connection.
//   - The reader never consumes more than the header from the socket's
//     point of view: bytes the client sent after the header are kept in a
//     small buffer and returned by Read first.
//   - Limits: a version 1 header is at most 107 bytes including CRLF (spec
//     §2.1); a version 2 header is 16 bytes plus its length field (at most
//     65535), of which only the address block (at most 216 bytes) is kept;
//     TLVs are skipped without being stored (spec §2.2.7).
//   - A LOCAL command (v2) and UNKNOWN (v1) or UNSPEC (v2) addresses mean
//     the connection carries no client address; the connection's own
//     addresses are reported, as the spec requires.
package proxyproto
