// Package imapclient is an IMAP4rev2/IMAP4rev1 client (RFC 9051, RFC 3501)
// with context support on every call, pipelining from several goroutines,
// streamed FETCH results and tracking of the selected mailbox.
//
// # Use
//
// Dial, DialTLS (implicit TLS, port 993) or DialStartTLS connect and read the
// greeting; NewClient starts a client on any net.Conn. Each command is a
// method whose first argument is a context.Context: Login (user name and
// password, the strongest way the server offers: SCRAM-PLUS, SCRAM, PLAIN,
// then the LOGIN command), Auth (one SASL exchange with a given
// mechanism), Select, List, Status, Append,
// Fetch and UIDFetch, Search, Store, Copy, Move, Expunge, Idle and
// IdleLoop, and so on. NO and BAD completions come back as *imap.Error;
// use errors.As or errors.Is with a template *imap.Error.
//
// Fetch returns a *FetchCommand whose messages and items stream off the
// socket in the order the server sends them; body sections are io.Readers
// reading the literal directly. Collect gathers everything into
// FetchMessageBuffer values instead.
//
// Unsolicited data (EXISTS, EXPUNGE, VANISHED, FETCH flag changes, ALERT,
// BYE) goes to the Handler in Options and updates the MailboxState
// returned by Client.Mailbox.
//
// # Implementation notes
//
// One reader goroutine per connection parses every response (tagged,
// untagged, continuation) with imap/internal/imapwire, bounded by Limits.
// Commands take the write mutex (wmu) to get a tag and write their line, so
// commands are written whole and in order; each then waits on its own done
// channel, closed by the reader goroutine when the tagged completion
// arrives. Untagged data is routed to the oldest pending command that asked
// for that response name (command.wants); a command's collected data is
// written only by the reader goroutine and read by the issuer only after
// done is closed, so it needs no lock.
//
// A command holds wmu while it waits for continuation requests (synchronising
// literals, AUTHENTICATE, IDLE): the server answers "+" to the one command
// in that state, so there is only ever one waiter (contWaiter). IDLE keeps
// wmu until DONE is written; other goroutines' commands wait meanwhile.
//
// Streamed FETCH data is handed from the reader goroutine to the consumer
// over one buffered channel per command, in batches of messages (flushed
// when the reader's input runs dry, at a body section and at the end), so
// messages without body sections are parsed ahead while the caller works
// at one goroutine wake-up per batch; a body section's literal is read by
// the consumer straight off the socket while the reader goroutine waits.
// Meanwhile the consumer owns the decoder (FetchCommand.owned, under
// FetchCommand.pmu): when it moves on it parses the rest of the response,
// and further FETCH responses of its command, itself, and hands the
// decoder back at the start of any other response; so a FETCH of bodies
// costs no goroutine switch per message. When the command is abandoned
// (its context ended or it was closed early), the reader goroutine stops
// delivering, takes the decoder back wherever the consumer left it (the
// literal through sectionReader.kill) and reads the rest of the response
// itself, so the connection remains usable.
//
// Cancellation: a context that ends while a command line is being written
// interrupts the write through the socket's write deadline and closes the
// connection, since a half-written command cannot be taken back (likewise
// an APPEND literal or an AUTHENTICATE exchange). A context that ends while
// waiting for the completion abandons the command: its responses are read
// and dropped and the connection stays usable. IdleLoop ends IDLE with
// DONE when its context ends.
//
// No password or token is sent without TLS (the LOGIN command, PLAIN,
// LOGIN, OAUTHBEARER, XOAUTH2 fail with sasl.ErrInsecureAuth before
// anything is written) unless Options.AllowInsecureAuth is set, whatever
// the server announces: a man in the middle can strip STARTTLS and
// LOGINDISABLED (RFC 9051 §11.1). Options.Trace writes a protocol trace
// with LOGIN's arguments (literals too) and AUTHENTICATE redacted.
//
// Commands are built as imapwire.Command values, which keep the places of
// their literals as structure; the writer closes each literal header
// ("}" CRLF and a wait for the continuation, or "+}" under LITERAL+) where
// the builder put it, so argument data that looks like "{1}" CRLF is only
// data (RFC 9051 §4.3).
//
// STARTTLS and COMPRESS pause the reader goroutine after the
// tagged OK (command.pause); the issuer performs the handshake and hands it
// a new bufio.Reader, so bytes the server sent in plaintext after its OK are
// dropped with the old reader (RFC 9051 §6.2.1, CVE-2011-0411 class).
// PREAUTH on a connection meant for STARTTLS is refused (ErrPreauthStartTLS).
//
// Commands whose untagged data cannot be told apart when a server runs
// them concurrently (RFC 9051 §5.5: Dovecot does run pipelined FETCHes in
// parallel) are serialised per group (FETCH/STORE/SELECT, SEARCH/SORT/
// THREAD, LIST) by a token taken before the write lock and returned by the
// reader goroutine at completion; other commands pipeline freely. STATUS
// responses are matched to their command by mailbox name.
//
// An untagged response that cannot be parsed (garbled, a line over
// MaxLine, a literal over its limit, lists nested too deep) is skipped up
// to its CRLF, stepping over the literals it announces, and reported to
// Handler.ParseError; the connection goes on. Errors in tagged responses
// and I/O errors end the connection.
//
// AppendMulti sends several messages in one APPEND (MULTIAPPEND), each
// synchronising literal waiting for its own continuation request.
//
// Resync brings a remembered mailbox state (UIDVALIDITY, HIGHESTMODSEQ,
// known UIDs) up to date with QRESYNC, CONDSTORE or a full UID FETCH of
// flags, whichever the server allows.
//
// Mailbox names are passed and returned in UTF-8 and converted to modified
// UTF-7 on the wire unless UTF8=ACCEPT or IMAP4rev2 was enabled (RFC 9051
// §5.1.3, RFC 6855).
//
// # Specifications
//
// RFC 9051 and RFC 3501 (core), RFC 2177 IDLE, RFC 2971 ID, RFC 3516
// BINARY fetch items and literal8, RFC 3691 UNSELECT, RFC 4315 UIDPLUS,
// RFC 4731 ESEARCH, RFC 4959 SASL-IR, RFC 5161 ENABLE, RFC 5256 SORT,
// RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE,
// RFC 6851 MOVE, RFC 7162 CONDSTORE/QRESYNC (SELECT parameters,
// CHANGEDSINCE, UNCHANGEDSINCE, VANISHED), RFC 7888 LITERAL+/LITERAL-,
// RFC 4978 COMPRESS=DEFLATE, RFC 5256 THREAD, RFC 5464 METADATA,
// RFC 9208 QUOTA, RFC 6154 CREATE-SPECIAL-USE, RFC 3502 MULTIAPPEND,
// RFC 5802 and RFC 9266 (SCRAM-PLUS channel binding, through sasl).
package imapclient
