// Package smtpqueue is a durable outbound mail queue: an application or a
// mail server hands a message over once with Enqueue, and the queue
// delivers it, retries it with backoff, and tells the sender with a
// delivery status notification when it cannot.
//
//	q, err := smtpqueue.Open("/var/spool/myapp", &smtpqueue.Options{
//		Hostname:  "mx.example.org",
//		Transport: &smtpqueue.Smarthost{Submitter: sub}, // or nil: direct to MX
//	})
//	go q.Run(ctx)
//	id, err := q.Enqueue(ctx, &smtpqueue.Envelope{From: from, To: to}, msg)
//
// # Durability
//
// Enqueue returns only after the message is on stable storage: written to
// tmp/, fsynced, renamed into msg/, and msg/ fsynced (the Maildir
// discipline). Concurrent Enqueue calls share the directory fsync (group
// commit): whoever arrives while a sync runs waits for the next one, which
// serves them all. Open finds every message whose Enqueue returned, after a
// crash or kill -9 at any point; files left in tmp/ were never
// acknowledged and are removed.
//
// A message being delivered when the process dies may be delivered twice,
// never lost. Once the next hop answers 250 after the data it has taken
// responsibility for the message (RFC 5321 §6.1), but the queue learns this
// only from the reply and must then record it on disk. A crash, or a
// connection lost, between the server's commit and that record leaves the
// queue unable to tell whether the message arrived; the only choices are to
// send it again or to risk losing it, and §6.1 forbids losing it. So the
// queue removes a message (or marks a recipient delivered) only after the
// reply, and a DSN is queued durably before the state saying it was sent.
//
// # On disk
//
//	dir/lock          held (flock) by the one Queue that has the directory open
//	dir/tmp/<id>      being written; removed by Open
//	dir/msg/<id>      "posthorn-queue 1\n", one line of JSON (ID, arrival,
//	                  kind, sender, recipients, MAIL and RCPT parameters),
//	                  then the message bytes; never changed after Enqueue
//	dir/state/<id>    JSON: attempts, next attempt, hold, delay notice sent,
//	                  each recipient's status and last reply; replaced
//	                  atomically (write, fsync, rename, fsync) after each
//	                  attempt; absent until the first
//	dir/index         written by Close when no delivery runs: a compact
//	                  binary snapshot of every record and state, so the
//	                  next Open reads one file and decodes no JSON; Open
//	                  removes it before anything can change, so after a
//	                  crash Open reads every file instead (index.go)
//
// IDs are the arrival time in microseconds (hex) and 48 random bits. The
// queue keeps an index of all messages in memory (envelope and state, not
// the message) with a heap of next attempts.
//
// # Delivery
//
// Run starts due messages, at most Options.MaxDeliveries at once. A
// message's pending recipients are grouped by destination
// (Transport.Destination: the domain, or the smarthost), each group sent
// in one transaction, at most Options.MaxPerDestination at once per
// destination. MX delivers straight to the MX hosts by smtpclient.Deliver's
// rules (smtpclient.MXHosts), keeping connections open for the next
// message to the same host (up to MX.MaxIdlePerHost per host, closed after
// MX.IdleTimeout unused); a message the server refuses leaves the session
// to the next one. Smarthost relays through an smtpclient.Submitter and
// its pool.
// Each recipient's outcome is recorded on its own: a 2xx marks it
// delivered, a 5xx fails it, a 4xx (or a DNS or connection failure) leaves
// only it pending for the next attempt. Retries follow RetryPolicy: 5
// minutes, doubling to an hour, with jitter, for 5 days (Postfix's
// defaults); then the recipients left fail with 4.4.7.
//
// # Notifications
//
// DSNs are RFC 3464 multipart/report messages built with mime.ReportBuilder
// and queued like any message, from the null sender (RFC 5321 §4.5.5,
// RFC 3461 §6.2). A recipient that failed gets a "failed" DSN unless its
// NOTIFY excludes FAILURE; one still pending after Options.DelayWarning a
// "delayed" one if NOTIFY includes DELAY. A NOTIFY=SUCCESS request goes
// on with the message when the next hop offers DSN (RFC 3461 §5.2.1: a
// Transport that knows implements DSNRelayer, as Smarthost does); else
// the queue answers it with a "relayed" DSN once the next hop accepted
// the message (§5.2.2), as it always does for MX delivery. Without NOTIFY the default is
// FAILURE,DELAY (§4.1). ENVID becomes Original-Envelope-Id, ORCPT
// Original-Recipient, and RET chooses whether the message or its header
// is returned. A message from the null sender is never bounced: its
// failure goes to Options.Postmaster as a double bounce, and a double
// bounce that fails is dropped with a log line, so nothing loops.
//
// Options.Sign transforms each message before it is sent; DKIM returns one
// that adds a DKIM-Signature with smtp/dkim, hashing the stored file without
// copying it.
//
// # Operations
//
// List, Get, Hold, Release, RetryNow and Delete manage the queue; Stats
// gives the gauges and counters for metrics, Options.OnEvent every
// delivery, deferral, failure, expiry and DSN, and Options.Logger a record
// of every attempt (recipient, destination, outcome, reply, duration).
//
// # Secure delivery
//
// Direct delivery uses STARTTLS opportunistically (RFC 7435), and verified
// TLS for REQUIRETLS messages; a REQUIRETLS
// message that cannot be sent so is bounced with 5.7.30 (RFC 8689 §4.2.1).
// MX.STS applies MTA-STS (RFC 8461): under an enforced policy only the MX
// hosts it names are used, over verified TLS, and failures are deferred.
// MX.DANE applies DANE (RFC 7672) through a DNSSEC-validating resolver:
// for a secure MX RRset, an MX host with secure TLSA records gets mail only
// over STARTTLS with a certificate they authenticate (DANE-EE or DANE-TA,
// the matching shared with mailcheck in internal/dane); failures defer.
// DANE takes precedence over MTA-STS where both apply (RFC 8461 §2);
// DANE.Mandatory makes it required per domain (RFC 7672 §6).
// MX.TLSRPT records the TLS outcome of each new connection (RFC 8460 §4.3
// result types) and builds the aggregate reports (JSON, gzip); a
// TLSReporter sends them daily to the domains whose _smtp._tls record
// asks, by DKIM-signed mail through the queue (delivered despite TLS
// policy failures, KindTLSReport) or by HTTPS POST; ParseTLSReport reads
// the reports others send.
//
// # Not yet
//
// Reports waiting for a retry are kept in memory, lost on restart;
// sessions under an MTA-STS policy in
// "testing" mode are counted as no-policy-found, since they are not
// verified. A policy of our own per domain (MX.DomainTLS) can require
// verified TLS, not merely encryption. Messages for one destination share
// connections one transaction after the other (each MAIL, RCPTs and DATA
// pipelined, RFC 2920), but the next message's MAIL is not pipelined
// behind the previous message's end of data.
package smtpqueue
