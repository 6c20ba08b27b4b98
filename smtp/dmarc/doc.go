// Package dmarc implements DMARC as RFC 9989 (DMARCbis) specifies it,
// which obsoletes RFC 7489, its aggregate reports (RFC 9990) and failure
// reports (RFC 9991).
//
// An Evaluator takes a Message — the Author Domain (the RFC5322.From
// domain, see AuthorDomain), the SPF result of the MAIL FROM identity and
// the results of any DKIM signatures — discovers the DMARC Policy Record
// (Discover), checks strict or relaxed Identifier Alignment of the SPF and
// DKIM identifiers, and returns an Evaluation: pass, fail, none (DMARC
// does not apply) or temperror (a DNS query did not complete, so the
// message neither passes nor fails, RFC 9989 §5.3.6), with the policy
// that applies (p, sp or np) and the disposition it asks for.
//
// The SPF and DKIM inputs are plain structs (SPFResult, DKIMResult), so
// any SPF checker or DKIM verifier can feed the evaluation; posthorn's are
// smtp/spf and smtp/dkim.
//
// # Organizational Domain
//
// By default the Organizational Domain comes from the DNS Tree Walk of
// RFC 9989 §4.10 (at most eight queries per walk, psd= tags honoured).
// Evaluator.Method = PublicSuffix selects RFC 7489's method instead, with
// the Public Suffix List compiled into golang.org/x/net/publicsuffix.
//
// # Records
//
// ParseRecord reads old records (with pct=) and new ones (np=, psd=, t=);
// invalid values fall back to the defaults and unknown tags are ignored
// (§4.8). pct= is RFC 9989 history (Appendix A.6): pct=0 counts as t=y,
// and other values are applied by sampling only with
// Evaluator.HonorPct. Record.String formats a record to publish.
//
// # Aggregate reports
//
// ParseReport reads the XML reports others send (RFC 9990 and RFC 7489
// formats, plain, gzip or zip), bounded in size, depth and record count.
// An Aggregator collects Observations of evaluated messages and builds
// the reports to send, one per policy domain with rua=;
// Evaluator.ReportDestinations keeps only the rua URIs that may receive
// them (RFC 9990 §4: external destinations must confirm), and Report's
// Filename, Subject and WriteGzip give the parts of the report message
// (§3.5.2), WriteMessage the whole message. A Recorder keeps the
// observations per reporting period (a UTC day by default) and gives the
// reports of the periods that ended (Due); smtpserver.InboundAuth.Reports
// feeds one.
//
// # Failure reports
//
// Evaluation.FailureReportWanted tells whether the policy asks for a
// failure report (ruf=, fo=; never for psd=y records, RFC 9991 §2), and
// Evaluation.FailureReport starts one (RFC 9991 over RFC 6591's
// authentication failure format) for FailureReport.WriteMessage;
// ParseFailureReport reads those others send, bounded in size and parts.
// RFC 9991 §2 requires a rate limit on the reports sent: that, and
// verifying ruf= destinations with ReportDestinations (§5), is the
// sender's part. DKIM and SPF failure reports (fo=d, fo=s; RFC 6651,
// RFC 6652) are not built.
//
// # Implementation notes
//
//   - Policy discovery walks from the Author Domain itself; its own
//     record applies with p=. Otherwise the Organizational Domain's
//     record, else the PSD's (psd=y), applies with sp= for an existing
//     subdomain and np= for a non-existent one (NXDOMAIN, RFC 8020; with a
//     resolver that cannot tell NXDOMAIN from "no data", no A, AAAA or MX).
//   - Relaxed alignment walks only for identifiers at or below the Author
//     Domain's Organizational Domain; any other name cannot align, so no
//     queries are spent on it.
//   - Only the MAIL FROM identity counts for SPF alignment (RFC 9989
//     §4.4.2).
package dmarc
