// Package spf evaluates Sender Policy Framework policies (RFC 7208): may
// this client IP send mail for this domain?
//
// A Checker runs check_host() for the MAIL FROM identity (CheckMailFrom,
// which for the null reverse-path checks postmaster@ the HELO name,
// RFC 7208 §2.4) and for the HELO identity (CheckHelo, §2.3). The Outcome
// carries the Result — none, neutral, pass, fail, softfail, temperror or
// permerror — with the matched mechanism, the explanation of a fail
// (exp=, §6.2), the problem behind an error, and renders the
// Received-SPF header field (§9.1).
//
// ParseRecord checks and parses a record (for publishing one, or linting
// it); Record.String formats one.
//
// # In an SMTP server
//
// A session checks at MAIL FROM, where it knows the client address
// (ConnInfo.RemoteAddr), the EHLO name (ConnInfo.Hostname) and the
// reverse-path: CheckMailFrom, then refuse a Fail with 550 5.7.23 and
// answer a TempError with 451 4.7.24 (RFC 7372 §3.2, RFC 7208 §8.4 and
// §8.6), or keep the Outcome to decide later. At DATA the Outcome gives
// the Received-SPF field and an Authentication-Results entry, and its
// Domain and Result feed DMARC (smtp/dmarc). The test TestInboundChecks
// in smtp/dmarc runs exactly this against smtpserver.
//
// # Conformance
//
// The OpenSPF RFC 7208 test suite (testdata/rfc7208-tests.json, converted
// from the suite's YAML by testdata/yaml2json.py; licence beside it) passes
// in full. One explanation is compared without regard to case: the suite
// expects %{ir} of an IPv6 address in upper-case hex, where RFC 7208 §7.4
// shows lower case; DNS names are case-insensitive either way.
//
// # Bounded evaluation
//
// A record built to be expensive stays cheap: at most 10 DNS-querying
// terms (include, a, mx, ptr, exists, redirect) per evaluation, at most 2
// void lookups (§4.6.4), at most 10 MX names per mx and 10 PTR names per
// ptr, a 20-second deadline (temperror past it), records over
// MaxRecordLength refused, and macro expansion that never re-expands its
// output and is capped at 8 KiB (no exponential growth). A DNS failure
// other than "no such name/record" is temperror, never pass or fail (§5).
//
// # Implementation notes
//
//   - The whole record is parsed, and its syntax checked, before any term
//     is evaluated (§4.6): a syntax error anywhere is permerror even if an
//     earlier mechanism would have matched.
//   - Lookup and void-lookup counts are per evaluation, shared across
//     include and redirect.
//   - The exp= lookup happens only for a fail at the top level or the
//     redirect target, is not counted, and its failures only fall back to
//     the default explanation (§6.2).
//   - The ptr mechanism and %{p} validate names once per evaluation.
package spf
