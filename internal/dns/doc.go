// Package dns is posthorn's one DNS client: the stub resolver the message
// authentication packages (SPF, DKIM, DMARC), the queue's MX and DANE
// lookups and the troubleshooting tool share.
//
// net.Resolver hides what mail needs: the TTL of an answer (so nothing can
// be cached properly), the AD bit (DANE, RFC 7672), TLSA records, and a
// clean split of "this name has no such record" from "the DNS did not
// answer". Client asks the resolvers of /etc/resolv.conf itself, over UDP
// with TCP fallback, using golang.org/x/net/dns/dnsmessage, and caches the
// answers for their TTLs.
//
// # Resolver
//
// Resolver is the small interface the mail packages consume. Its methods
// have the signatures of *net.Resolver's, so net.DefaultResolver, a Client
// and a test's fake all satisfy it. Failures are *net.DNSError:
// IsNotFound for NXDOMAIN and for a name without records of the asked type
// ("no data"), IsTemporary (and IsTimeout) for everything that may succeed
// on retry — SERVFAIL, REFUSED, other RCODEs, timeouts and network errors.
// Callers in SPF and DMARC map the latter to temperror, never to a pass or
// a fail (RFC 7208 §5, RFC 9989 §4.10).
//
// # The AD bit
//
// Response.Authentic reports the AD (authentic data) bit only when the
// resolver that answered is trusted to have validated it: a resolver on a
// loopback address, or one the application trusts explicitly
// (Client.TrustAD, or "options trust-ad" in resolv.conf as glibc has it).
// From any other resolver the bit could have been set by anyone on the path
// (RFC 7672 §2.1.3, RFC 6698 §4.1), so it is reported false.
//
// # Implementation notes
//
//   - A query ID is random per query and an answer counts only when its ID
//     and question match the query (a spoofed or stray datagram is ignored
//     and the read continues until the deadline).
//   - Answers are cached per (lower-cased name, type) until the smallest TTL
//     of the records used runs out; negative answers for the SOA's negative
//     TTL (RFC 2308 §5) and not at all without an SOA. Temporary failures
//     are never cached. The cache holds at most Client.CacheSize entries.
//   - resolv.conf is read on first use and again when it changes: a query
//     that goes to the network looks at the file's time and size at most
//     every 5 seconds, as the C library does.
//   - Concurrent lookups of one name and type share one query: the
//     first asks, the others wait for its answer (or their own context).
//   - CNAME chains are followed within the answer and, when the answer ends
//     at an alias, by asking again for its target, at most MaxCNAMEHops
//     times.
package dns
