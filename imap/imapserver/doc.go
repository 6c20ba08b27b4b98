// Package imapserver is an IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC 3501)
// server: the protocol engine over a pluggable Backend.
//
// # Map
//
// A [Server] accepts connections (Serve, ServeTLS, ListenAndServe,
// ListenAndServeTLS, Shutdown, Close: the same shape as net/http, and
// the same server shell, internal/serve, as the posthorn SMTP and POP3
// servers) and runs one session per connection. The [Backend] stores
// bytes: it authenticates (VerifyPassword, or the sasl credential
// interfaces through [Server.Auth]) and opens a [User], whose mailboxes
// are opened as [Mailbox] handles. A backend keeps raw messages with CRLF
// line ends, flags, UIDs, per-mailbox mod-sequences and an expunge
// history, mailbox metadata and subscriptions, and publishes every change
// to the open handles. The server does the protocol: it keeps each
// session's sequence-number map, computes FETCH items from the raw
// message (imap/internal/imapmsg over the mime part index) and runs SEARCH.
// Package imapmem is a complete in-memory Backend that also serves SMTP
// delivery and POP3.
//
// One file per command: select.go (SELECT, EXAMINE, CLOSE, UNSELECT),
// fetch.go, store.go, search.go, copy.go (COPY, MOVE), expunge.go,
// append.go, list.go (LIST, LSUB), status.go, mailbox.go (CREATE,
// DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, NAMESPACE), idle.go, auth.go
// (STARTTLS, LOGIN, AUTHENTICATE), capability.go (CAPABILITY, NOOP,
// LOGOUT, ID, ENABLE, CHECK).
//
// # Implemented
//
// IMAP4rev2 and IMAP4rev1 per session (ENABLE IMAP4rev2), STARTTLS with
// LOGINDISABLED until TLS (RFC 9051 §6.2), AUTHENTICATE with SASL-IR (RFC
// 4959), LITERAL+ or LITERAL- (RFC 7888, Server.LiteralMinus), ENABLE (RFC
// 5161), IDLE (RFC 2177), UIDPLUS (RFC 4315), MOVE (RFC 6851), NAMESPACE
// (RFC 2342), ID (RFC 2971), UNSELECT (RFC 3691), CHILDREN (RFC 3348),
// SPECIAL-USE and CREATE-SPECIAL-USE (RFC 6154), LIST-EXTENDED (RFC 5258),
// LIST-STATUS (RFC 5819), STATUS=SIZE (RFC 8438), ESEARCH (RFC 4731),
// SEARCHRES (RFC 5182), APPENDLIMIT (RFC 7889), BINARY (RFC 3516),
// UTF8=ACCEPT (RFC 6855), CONDSTORE and QRESYNC (RFC 7162), QUOTA with
// QUOTA=RES-STORAGE, QUOTA=RES-MESSAGE, QUOTASET and STATUS DELETED-STORAGE
// (RFC 9208; quota.go, backend_quota.go), MULTIAPPEND (RFC 3502; append.go),
// SORT, THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256), ESORT
// (RFC 5267, without CONTEXT=SORT) and SORT=DISPLAY (RFC 5957; sort.go), and
// COMPRESS=DEFLATE (RFC 4978; compress.go).
//
// Quota is the backend's (Quotaer, QuotaSetter, DeletedSizer): one quota
// root "" per user, enforced by the store atomically with the change, so an
// APPEND, COPY, MULTIAPPEND or SMTP/LMTP delivery over the limit fails with
// NO [OVERQUOTA] and changes nothing; SETQUOTA only for users
// Server.AllowSetQuota permits. SORT and THREAD collate with
// i;ascii-casemap (imap/internal/imapsort; I18NLEVEL is not advertised) and
// accept the charsets US-ASCII and UTF-8.
//
// \Recent (IMAP4rev1 only, RFC 3501 §2.3.2) is recent in exactly one
// session, the first told of the message; the store arbitrates through
// Snapshot.RecentFrom and Update.Recent (imapmem keeps a per-mailbox
// watermark), EXAMINE claims nothing, and after ENABLE IMAP4rev2 neither
// the flag nor RECENT responses are sent (RFC 9051 Appendix E).
// Deliberate deviation: CHECK is a NOOP.
//
// CONDSTORE and QRESYNC (RFC 7162, condstore.go, condstore_fetch.go,
// qresync.go) ride on the mod-sequences the backend keeps: Snapshot and
// MailboxStatus carry HIGHESTMODSEQ (0 means the mailbox keeps none and
// is answered with NOMODSEQ, and the commands that need mod-sequences
// with BAD), Update and Message carry per-change and per-message values,
// SetFlags does UNCHANGEDSINCE. Any CONDSTORE enabling command (§3.1)
// turns on MODSEQ, with UID, in every later FETCH response; ENABLE
// QRESYNC also turns EXPUNGE into VANISHED, which obeys the same rules
// of when it may be sent (held during FETCH, STORE and SEARCH by
// sequence number). SELECT (QRESYNC ...) and UID FETCH (CHANGEDSINCE
// VANISHED) read the optional ExpungeHistory and ChangeIndex
// interfaces; with both, a resync costs time in proportion to what
// changed, not to the mailbox (imapmem indexes its changes by
// mod-sequence). Without an expunge history (or when it returns
// ErrHistoryExpired) VANISHED (EARLIER) names every known UID missing
// from the mailbox, narrowed by the client's sequence match data. A
// backend implementing ModSeqKeeper can turn both capabilities off.
//
// Operations: Server.ProxyTrusted accepts the PROXY protocol (v1 and v2)
// from trusted load balancers, whose carried client address then counts
// for the per-IP limits, the login-failure limiter and the logs;
// Server.Hooks reports connections and logins for metrics; Server.Logger
// gets structured records, never passwords or message data.
//
// # Implementation notes
//
// Invariants a maintainer must keep:
//
//   - A session has one goroutine. It reads commands ahead through its
//     bufio.Reader (pipelining) and answers them in order. Nothing else
//     writes to its connection; other goroutines only set flags
//     (woken, and Shutdown's through the embedded serve.Stop) and move
//     the read deadline to wake it. Shutdown wakes a session only while
//     it waits for a command or idles (Wait/Busy), so an APPEND being
//     received is never cut short before Shutdown's deadline.
//   - The sequence-number map (selected.uids) changes only when the
//     client is told: EXISTS appends, EXPUNGE removes. Expunges reported
//     by the backend during FETCH, STORE or SEARCH by sequence number are
//     held in selected.expunged and sent at the end of a later command
//     that allows them (RFC 9051 §7.5.1, RFC 2180 §4); until then the
//     messages keep their numbers and FETCH serves them as they were
//     when expunged, from the Message the store put in the
//     UpdateExpunge (RFC 2180 §4.1.1), answering OK [EXPUNGEISSUED];
//     NO [EXPUNGEISSUED] only when nothing named could be served.
//     UID commands first bring the view up to date once their command
//     line is read, except UID SEARCH, SORT and THREAD, whose criteria
//     may hold the client's sequence numbers; FETCH and STORE by
//     sequence number do too, holding the expunges and the EXISTS of new
//     mail, which must not join the client's "*" (selected.announced).
//   - A command's own responses are never followed by an older state
//     of the same message (RFC 7162 §3.1.4): pending updates go before
//     them (above), and those polled after a FETCH or STORE are checked
//     against what it reported (session.told, sync.go): older ones are
//     dropped, or replaced by the newer state when the command did not
//     write the flags (STORE.SILENT).
//   - Every keyword a session shows was announced in FLAGS first:
//     selected.keywords starts as the snapshot's, and a new one is sent
//     with FLAGS and PERMANENTFLAGS before the response that shows it.
//   - EXPUNGE responses of one batch are sent from the highest sequence
//     number down, so every number is valid when sent, and the map is
//     compacted once.
//   - The HIGHESTMODSEQ a session reports (on enabling, after EXPUNGE and
//     MOVE, and with held-back expunges) never exceeds what it told the
//     client: while expunges are held it stays below the lowest of their
//     mod-sequences (RFC 7162 §3.2, §6), so a client that saves it and
//     loses the connection still learns of them on its next resync.
//   - Flag changes the session made itself (Update.Own) are not echoed:
//     STORE already answered them (and .SILENT asked for nothing).
//   - Updates are only written between commands or inside IDLE, never
//     while a backend lock is held: Mailbox.Poll hands them over and the
//     session writes them afterwards. A backend's SetNotify callback only
//     sets a flag and the read deadline.
//   - FETCH streams message by message into the write buffer; sections
//     are copied from the backend's io.ReaderAt through the buffer. The
//     parse of a message (part index, encoded ENVELOPE, BODY and
//     BODYSTRUCTURE) is computed once and kept in the Message's
//     ParseCache, shared by all sessions and copies of the message,
//     bounded by Limits.ParseCacheBytes with CLOCK eviction over weak
//     pointers (parsecache.go): a hit sets an atomic referenced bit and
//     takes no lock. A FETCH of ENVELOPE alone parses and caches only the
//     header (RFC 9051 §7.5.2); anything more replaces that with the whole
//     parse, reusing the encoded ENVELOPE. Parses read through a pooled
//     mime.Indexer, so none allocates in proportion to the message size.
//     A store with an index of its own on disk implements Summarizer on
//     its messages instead: ENVELOPE, BODY, BODYSTRUCTURE and the SORT and
//     THREAD keys then come from there, the message is not opened and the
//     parse cache holds nothing for them (only sections and SEARCH of
//     header or text parse).
//   - While waiting for a client (between commands and in IDLE) with
//     nothing buffered, a session returns its read and write buffers to
//     the Server's pools and waits on a one-byte read.
//   - SORT and THREAD keys are computed once per message content and kept
//     in its parse (parsedMsg.sortKeys); sorting a mailbox puts them in
//     sequence order with per-criterion ranks (sortEntry), which the
//     Server shares between all sessions with the same sequence map of
//     that mailbox (at most 2^18 messages in all, least recently used
//     dropped first), so the first SORT of a new selection of an
//     unchanged mailbox costs what a repeated one does. A change builds a
//     new entry, asking the backend only for the messages it adds.
//   - After COMPRESS the session's conn is an imap/internal/deflate Conn: each
//     Flush of the session's writer is one sync-flushed compressed write,
//     and the session flushes before every wait for input, so nothing is
//     ever stuck in the compressor. The inflater survives the read
//     deadline IDLE uses to wake the session. Parking returns the
//     session's buffers, and after 500 ms without output the compressor
//     (about 1.2 MiB) goes to a Server-wide pool, the deflate.Conn keeping
//     the last 32 KiB sent to prime the next one: an idle compressed
//     connection holds about 110 KiB (inflater window, history, input
//     buffer) instead of 1.28 MiB (BenchmarkIdleCompressedConnections).
//   - A panic in a session (a backend bug) ends that session with BYE
//     [SERVERBUG] and is logged; the process goes on.
//   - Logs carry the remote address, user, command and status, never
//     passwords, SASL data, ID parameters or message contents.
package imapserver
