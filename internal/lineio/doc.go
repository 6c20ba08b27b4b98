// Package lineio reads protocol lines with hard limits and encodes and
// decodes dot-stuffed multi-line bodies (SMTP DATA, POP3 multi-line
// responses).
//
// # Lines
//
// [Reader] wraps a *bufio.Reader and returns one line at a time without its
// CRLF (or bare LF) terminator. A line longer than the limit is never
// buffered: the reader discards it up to and including its end and returns
// a *[LineTooLongError], so a server can answer "500 line too long" and read
// the next command in step with the client. Lines that fit in the
// bufio.Reader's buffer are returned as slices of that buffer (zero
// allocations); longer lines that are still within the limit are assembled
// in one scratch buffer owned by the Reader, which is reused.
//
// # Dot-stuffing
//
// [DotReader] decodes a body terminated by <CRLF>.<CRLF> (RFC 5321 §4.5.2,
// RFC 1939 §3). [DotWriter] encodes one.
//
// Implementation notes, the invariants a maintainer must keep:
//
//   - Only CR LF "." CR LF ends the data. The start of the data counts as
//     following a CRLF, so a "." alone on the very first line is the end
//     of an empty body. No other combination of CR, LF and "." ends the
//     data: not "\n.\n", "\n.\r\n", "\r.\r", "\r\n.\n", "\r.\r\n",
//     "\r\n.\r" (SMTP smuggling).
//   - A line starts only after a real CRLF. A "." after a bare CR or a bare
//     LF is content: it is neither unstuffed nor the start of a terminator,
//     under either [BareEOLPolicy].
//   - Whatever goes wrong inside the body (bare CR or LF under
//     [RejectBareEOL], the size limit, the line limit), the DotReader keeps
//     consuming, without storing, up to the real terminator before it
//     returns the error. Control never returns to the caller in the middle
//     of the data, where the rest would be read as commands. Only an I/O
//     error (including io.ErrUnexpectedEOF) returns early; the connection
//     is unusable then anyway.
//   - The DotReader never waits for bytes past the terminator: it asks the
//     bufio.Reader for more only when the body must go on (inside a line,
//     or three bytes at the start of a line, which a conforming peer always
//     sends, if only ".\r\n"). Whatever the bufio.Reader has buffered
//     beyond the terminator stays there for the next command.
//   - The DotReader's fast path finds line ends with one bytes.IndexByte
//     per line, proves a run of lines free of bare CRs with one
//     bytes.Count, removes stuffing dots and spots the terminator inline,
//     and delivers the run with one copy (or, through WriteTo, one Write
//     straight from the bufio.Reader's buffer). It never loops byte by
//     byte over content. Everything unusual (bare CR or LF, lines longer
//     than the buffer or MaxLine, a line that does not fit the caller's
//     buffer) goes to a careful path that handles one line at a time; a
//     run that failed the bare-CR check is then not scanned again, so a
//     hostile body cannot make the reader quadratic.
//   - The DotWriter stuffs every "." at the start of a line, the first
//     line included, and turns every bare CR and bare LF into CRLF, so its
//     output can never contain the terminator before Close writes it.
package lineio
