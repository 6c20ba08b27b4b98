package imapserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapmsg"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
	"github.com/posthorn/posthorn/internal/serve"
	"github.com/posthorn/posthorn/internal/wiretrace"
	"github.com/posthorn/posthorn/sasl"
)

type connState uint8

const (
	stateNotAuth connState = iota
	stateAuth
	stateSelected
	stateLogout
)

// errClose ends the session without another response.
var errClose = errors.New("imapserver: close connection")

// session is one connection. All its fields are used by its own
// goroutine only, except those marked otherwise.
type session struct {
	serve.Stop // Shutdown and Abort, from the Server's goroutine
	srv        *Server
	conn       net.Conn // the connection, *tls.Conn after STARTTLS
	raw        net.Conn // the accepted connection, never changed: for other goroutines
	// trace traces what is read and written through pc and w
	// (Server.Trace); nil when off.
	trace *wiretrace.Tracer
	ip    netip.Addr
	log   *slog.Logger
	ctx   context.Context

	pc      prefixConn
	br      *bufio.Reader
	w       respWriter
	section io.SectionReader // reused by FETCH to avoid an allocation per message
	hdrMsg  imapmsg.Message  // reused by FETCH of header sections from a Summary
	dec     *imapwire.Decoder

	state connState
	tls   bool
	// tlsState and chanBind are computed once, after the TLS handshake
	// (implicit TLS or STARTTLS): a -PLUS exchange consumes chanBind,
	// and RFC 9266 §4.1 allows one per connection (sasl.ChannelBinding).
	tlsState    *tls.ConnectionState
	chanBind    *sasl.ChannelBinding
	rev2        bool // ENABLE IMAP4rev2 (RFC 9051 §6.3.1)
	utf8        bool // UTF8=ACCEPT enabled (RFC 6855) or IMAP4rev2
	user        User
	username    string
	id          sasl.Identity // the logged-in identity
	info        ConnInfo      // what the Backend was told at login
	sel         *selected
	authFails   int
	lineRead    bool   // the current command's final CRLF was read
	updateAtEOL bool   // send pending updates once the command line is read
	atEOL       bool   // sending them: the command's own responses follow
	cmdName     string // the current command's name, upper case
	mailboxGone bool   // BYE sent: the selected mailbox was deleted
	// allowExpunge is false during FETCH, STORE and SEARCH by sequence
	// number, when EXPUNGE must not be sent (RFC 9051 §7.5.1).
	allowExpunge bool
	// deferred holds updates polled in the middle of a command, to be
	// told after its responses (sync.go); told is what the command
	// reported, which later updates must not contradict.
	deferred []Update
	told     toldState
	// okCode is the response code of the tagged OK, when the command
	// set one (EXPUNGEISSUED).
	okCode   imap.ResponseCode
	commands int
	// compressed is the COMPRESS=DEFLATE layer once active (compress.go).
	compressed net.Conn
	// sortCache serves repeated SORT and THREAD (sort.go).
	sortCache *sortCache

	cs condState // CONDSTORE/QRESYNC (condstore.go)

	// Set from other goroutines.
	woken atomic.Bool
}

func newSession(srv *Server, c net.Conn, ip netip.Addr) *session {
	s := &session{srv: srv, conn: c, raw: c, ip: ip}
	s.ctx = s.Init(c)
	s.log = srv.log.With("remote", c.RemoteAddr().String())
	_, s.tls = c.(*tls.Conn)
	return s
}

func (s *session) limits() imapwire.Limits {
	l := s.srv.limits
	lim := imapwire.Limits{MaxLine: l.MaxLineLength, MaxLiteral: l.MaxLiteral, MaxLiterals: l.MaxLiterals, MaxDepth: l.MaxDepth}
	if s.srv.LiteralMinus {
		lim.MaxNonSyncLiteral = 4096 // RFC 7888 §5
	}
	return lim
}

// Serve implements serve.Conn: it runs the session.
func (s *session) Serve() {
	defer s.conn.Close()
	defer s.End()
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic in session", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if s.w.Writer != nil {
				s.w.WriteString("* BYE [SERVERBUG] Internal error\r\n")
				s.w.Flush()
			}
		}
		s.closeMailbox()
		if s.user != nil {
			s.user.Close()
		}
		s.releaseBuffers()
	}()
	if tc, ok := s.conn.(*tls.Conn); ok {
		// Implicit TLS: the shell ran the handshake.
		s.setTLSState(tc)
	}
	s.w.refresh = func() { s.conn.SetWriteDeadline(time.Now().Add(s.srv.limits.WriteTimeout)) }
	s.trace = wiretrace.New(s.srv.Trace, wiretrace.IMAP, true, s.raw.RemoteAddr().String()+" ")
	s.pc.Conn = s.trace.Conn(s.conn)
	s.br = s.srv.getReader()
	s.br.Reset(&s.pc)
	s.w.Writer = s.srv.getWriter()
	s.w.Reset(s.pc.Conn)
	s.dec = imapwire.NewDecoder(s.br, s.limits())
	s.dec.Continue = s.continueLiteral
	s.log.Debug("connection opened")

	host := s.srv.hostname
	s.w.WriteString("* OK [CAPABILITY ")
	s.writeCaps()
	s.w.WriteString("] " + sanitizeText(host) + " IMAP server ready\r\n")
	if s.flush() != nil {
		return
	}
	for s.state != stateLogout {
		if err := s.waitInput(); err != nil {
			s.endWith(err)
			return
		}
		if err := s.command(); err != nil {
			s.endWith(err)
			return
		}
		if s.mailboxGone {
			s.flush()
			return
		}
		if s.Stopping() && s.state != stateLogout {
			s.endWith(errShutdown)
			return
		}
	}
}

var errShutdown = errors.New("imapserver: shutting down")

// endWith ends the session after err, with a BYE where one is due.
func (s *session) endWith(err error) {
	if s.Aborted() && !errors.Is(err, errClose) {
		// Shutdown's deadline cut a command short (RFC 9051 §7.1.5).
		err = errShutdown
	}
	switch {
	case errors.Is(err, errShutdown):
		s.w.WriteString("* BYE Server shutting down\r\n")
	case errors.Is(err, os.ErrDeadlineExceeded):
		// RFC 9051 §5.4: autologout.
		s.w.WriteString("* BYE Autologout; idle for too long\r\n")
	case errors.Is(err, errClose), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusBYE {
			s.w.status("*", imap.StatusBYE, ie.Code, ie.CodeArg, ie.Text)
		} else {
			s.log.Debug("connection error", "err", err)
		}
	}
	s.flush()
	s.log.Debug("connection closed")
}

// waitInput blocks until a command starts arriving, with the idle
// timeout of the session's state. Nothing is consumed.
func (s *session) waitInput() error {
	if s.br.Buffered() > 0 {
		return nil
	}
	if err := s.park(); err != nil {
		return err
	}
	defer s.unpark()
	if !s.Wait(time.Now().Add(s.idleTimeout())) {
		return errShutdown
	}
	err := s.waitByte()
	if err == nil {
		// The rest of the command: generous, but bounded.
		s.Busy(time.Now().Add(s.idleTimeout()))
		return nil
	}
	if s.Busy(time.Time{}) {
		return errShutdown
	}
	return err
}

func (s *session) idleTimeout() time.Duration {
	if s.state == stateNotAuth {
		return s.srv.limits.LoginTimeout
	}
	return s.srv.limits.IdleTimeout
}

func (s *session) flush() error {
	if s.w.Writer == nil {
		return nil
	}
	if s.w.Buffered() == 0 {
		return nil
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.srv.limits.WriteTimeout))
	return s.w.Flush()
}

// continueLiteral answers a synchronising literal (RFC 9051 §7.5).
func (s *session) continueLiteral(imapwire.LiteralInfo) error {
	s.w.WriteString("+ Ready for literal data\r\n")
	return s.flush()
}

// crlf reads the end of the command line.
func (s *session) crlf() error {
	if err := s.dec.ReadCRLF(); err != nil {
		return err
	}
	s.lineRead = true
	if s.updateAtEOL {
		// Bring the view up to date before the command's own responses,
		// so that no older state follows them (RFC 9051 §7.5.2, RFC 7162
		// §3.1.4); UID commands may carry EXPUNGE too, so that messages
		// expunged elsewhere are not asked for. Not before the whole
		// command is read: until then no command is in progress (RFC
		// 9051 §7.5.1).
		s.updateAtEOL = false
		s.atEOL = true
		s.sendUpdates(s.allowExpunge)
		s.atEOL = false
	}
	return nil
}

// handler runs one command after its name was read. It reads the
// arguments and the CRLF itself, runs the command and writes untagged
// responses; the tagged response follows from its error.
type handler struct {
	fn     func(s *session, tag string, uid bool) error
	states uint8 // bit set of connState values
}

const (
	inNotAuth  = 1 << stateNotAuth
	inAuth     = 1 << stateAuth
	inSelected = 1 << stateSelected
	inAny      = inNotAuth | inAuth | inSelected
)

// lookup returns the handler of a command (a switch, not a map: no
// package-level state).
func lookup(name string) (handler, bool) {
	switch name {
	case "CAPABILITY":
		return handler{cmdCapability, inAny}, true
	case "NOOP":
		return handler{cmdNoop, inAny}, true
	case "LOGOUT":
		return handler{cmdLogout, inAny}, true
	case "ID":
		return handler{cmdID, inAny}, true
	case "STARTTLS":
		return handler{cmdStartTLS, inNotAuth}, true
	case "LOGIN":
		return handler{cmdLogin, inNotAuth}, true
	case "AUTHENTICATE":
		return handler{cmdAuthenticate, inNotAuth}, true
	case "ENABLE":
		return handler{cmdEnable, inAuth | inSelected}, true
	case "SELECT":
		return handler{cmdSelect, inAuth | inSelected}, true
	case "EXAMINE":
		return handler{cmdSelect, inAuth | inSelected}, true
	case "CREATE":
		return handler{cmdCreate, inAuth | inSelected}, true
	case "DELETE":
		return handler{cmdDelete, inAuth | inSelected}, true
	case "RENAME":
		return handler{cmdRename, inAuth | inSelected}, true
	case "SUBSCRIBE":
		return handler{cmdSubscribe, inAuth | inSelected}, true
	case "UNSUBSCRIBE":
		return handler{cmdSubscribe, inAuth | inSelected}, true
	case "LIST":
		return handler{cmdList, inAuth | inSelected}, true
	case "LSUB":
		return handler{cmdList, inAuth | inSelected}, true
	case "NAMESPACE":
		return handler{cmdNamespace, inAuth | inSelected}, true
	case "STATUS":
		return handler{cmdStatus, inAuth | inSelected}, true
	case "APPEND":
		return handler{cmdAppend, inAuth | inSelected}, true
	case "IDLE":
		return handler{cmdIdle, inAuth | inSelected}, true
	case "CHECK":
		return handler{cmdCheck, inSelected}, true
	case "CLOSE":
		return handler{cmdClose, inSelected}, true
	case "UNSELECT":
		return handler{cmdClose, inSelected}, true
	case "EXPUNGE":
		return handler{cmdExpunge, inSelected}, true
	case "SEARCH":
		return handler{cmdSearch, inSelected}, true
	case "FETCH":
		return handler{cmdFetch, inSelected}, true
	case "STORE":
		return handler{cmdStore, inSelected}, true
	case "COPY":
		return handler{cmdCopy, inSelected}, true
	case "MOVE":
		return handler{cmdCopy, inSelected}, true
	case "GETQUOTA":
		return handler{cmdGetQuota, inAuth | inSelected}, true
	case "GETQUOTAROOT":
		return handler{cmdGetQuotaRoot, inAuth | inSelected}, true
	case "SETQUOTA":
		return handler{cmdSetQuota, inAuth | inSelected}, true
	case "SORT":
		return handler{cmdSort, inSelected}, true
	case "THREAD":
		return handler{cmdThread, inSelected}, true
	case "COMPRESS":
		return handler{cmdCompress, inAuth | inSelected}, true
	}
	return handler{}, false
}

// uidCommand reports whether name may follow "UID".
func uidCommand(name string) bool {
	switch name {
	case "FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE", "SORT", "THREAD":
		return true
	}
	return false
}

// command reads and runs one command. A returned error ends the session.
func (s *session) command() error {
	s.commands++
	s.lineRead = false
	first := s.commands == 1
	tag, err := s.dec.ReadTag()
	if err != nil {
		return s.syntaxError("*", err, first)
	}
	if err := s.dec.SP(); err != nil {
		return s.syntaxError(tag, err, first)
	}
	name, err := s.dec.ReadAtomUpper()
	if err != nil {
		return s.syntaxError(tag, err, first)
	}
	uid := false
	if name == "UID" {
		uid = true
		if err := s.dec.SP(); err != nil {
			return s.syntaxError(tag, err, first)
		}
		if name, err = s.dec.ReadAtomUpper(); err != nil {
			return s.syntaxError(tag, err, first)
		}
		if !uidCommand(name) {
			return s.syntaxError(tag, &imapwire.Error{Kind: imapwire.ErrSyntax, Msg: "unknown UID command"}, first)
		}
	}
	s.cmdName = name
	s.allowExpunge = uid || !(name == "FETCH" || name == "STORE" || name == "SEARCH")
	h, ok := lookup(name)
	if !ok {
		if first {
			// Not an IMAP client (an HTTP request, say): do not chat.
			return imap.ByeError("", "Not an IMAP command")
		}
		return s.syntaxError(tag, &imapwire.Error{Kind: imapwire.ErrSyntax, Msg: "unknown command " + name}, false)
	}
	if h.states&(1<<s.state) == 0 {
		err := s.dec.Recover(s.srv.limits.MaxLiteral)
		if err != nil {
			return s.outOfStep(err)
		}
		s.w.status(tag, imap.StatusBAD, imap.CodeClientBug, "", name+" not allowed in this state")
		return nil
	}
	// UID SEARCH, SORT and THREAD may hold sequence numbers in their
	// criteria, which refer to the client's view: no update before them.
	// FETCH and STORE report flags: updates first, expunges held.
	s.updateAtEOL = s.sel != nil && (uid && name != "SEARCH" && name != "SORT" && name != "THREAD" ||
		name == "FETCH" || name == "STORE")
	s.okCode = ""
	start := time.Now()
	if f := s.srv.CommandFilter; f != nil {
		ci := CommandInfo{Name: name, UID: uid, Conn: &s.info}
		if s.user != nil {
			ci.Username = s.user.Username()
		}
		if ferr := f(s.ctx, ci); ferr != nil {
			var ie *imap.Error
			if !errors.As(ferr, &ie) || ie.Type == imap.StatusBYE {
				ferr = imap.NoError("", "Command refused")
			}
			s.updateAtEOL = false
			return s.finish(tag, name, ferr, start)
		}
	}
	err = h.fn(s, tag, uid)
	return s.finish(tag, name, err, start)
}

// finish turns a handler's outcome into the tagged response.
func (s *session) finish(tag, name string, err error, start time.Time) error {
	defer s.told.reset()
	if errors.Is(err, errHandled) {
		return nil
	}
	if err != nil && !s.lineRead {
		if _, ok := imapwire.IsError(err); !ok {
			// A semantic error found before the end of the line: skip the rest.
			if rerr := s.dec.Recover(s.srv.limits.MaxLiteral); rerr != nil {
				return s.outOfStep(rerr)
			}
		}
	}
	if err == nil {
		s.sendUpdates(s.allowExpunge)
		if s.mailboxGone {
			return errClose // BYE sent
		}
		s.w.status(tag, imap.StatusOK, s.okCode, "", name+" completed")
		return nil
	}
	if de, ok := imapwire.IsError(err); ok {
		return s.syntaxError(tag, de, false)
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		if ie.Type == imap.StatusBYE {
			return ie
		}
		if ie.Type != imap.StatusBAD {
			s.sendUpdates(s.allowExpunge)
		}
		s.w.status(tag, ie.Type, ie.Code, ie.CodeArg, ie.Text)
		s.log.Debug("command failed", "cmd", name, "status", string(ie.Type), "code", string(ie.Code), "text", ie.Text)
		return nil
	}
	if errors.Is(err, errClose) || errors.Is(err, errShutdown) {
		return err
	}
	if isConnError(err) {
		return err
	}
	// A backend error.
	code, text := backendCode(err)
	s.log.Info("command failed", "cmd", name, "err", err, "ms", time.Since(start).Milliseconds())
	s.sendUpdates(s.allowExpunge)
	s.w.status(tag, imap.StatusNO, code, "", text)
	return nil
}

// isConnError reports whether err ends the session: the connection broke,
// timed out or was closed. A store's file-system error is not one, even
// though the syscall.Errno inside it implements net.Error: a full disk is
// answered NO and the session goes on.
func isConnError(err error) bool {
	var oe *net.OpError
	switch {
	case errors.As(err, &oe),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
		return true
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return false
	}
	var ne net.Error // TLS alerts and other connection-level errors
	return errors.As(err, &ne)
}

// backendCode maps a Backend error to a response code (RFC 9051 §7.1).
func backendCode(err error) (imap.ResponseCode, string) {
	switch {
	case errors.Is(err, ErrNoSuchMailbox):
		return imap.CodeNonExistent, "No such mailbox"
	case errors.Is(err, ErrMailboxExists):
		return imap.CodeAlreadyExists, "Mailbox already exists"
	case errors.Is(err, ErrMailboxHasChildren):
		return imap.CodeHasChildren, "Mailbox has children"
	case errors.Is(err, ErrCannotDelete):
		return imap.CodeCannot, "Operation not permitted on this mailbox"
	case errors.Is(err, ErrOverQuota):
		return imap.CodeOverQuota, "Over quota"
	case errors.Is(err, ErrTooBig):
		return imap.CodeTooBig, "Message too big"
	case errors.Is(err, ErrReadOnly):
		return imap.CodeReadOnly, "Mailbox is read-only"
	case errors.Is(err, ErrNoSuchMessage):
		return imap.CodeExpungeIssued, "Some messages were expunged"
	case errors.Is(err, ErrMailboxDeleted):
		return imap.CodeNonExistent, "Selected mailbox was deleted"
	case errors.Is(err, ErrUnsupportedSpecialUse):
		return imap.CodeUseAttr, "Special-use attribute not supported"
	case errors.Is(err, ErrAuthFailed):
		return imap.CodeAuthenticationFailed, "Authentication failed"
	}
	return imap.CodeServerBug, "Internal error"
}

// syntaxError answers a decoder error and puts the decoder back in step.
func (s *session) syntaxError(tag string, err error, first bool) error {
	de, ok := imapwire.IsError(err)
	if !ok {
		return err // I/O
	}
	if first && de.Kind == imapwire.ErrSyntax {
		return imap.ByeError("", "Not an IMAP command")
	}
	if de.Kind == imapwire.ErrOutOfStep {
		return imap.ByeError(imap.CodeTooBig, "Cannot recover from: "+de.Msg)
	}
	if !de.InStep {
		if rerr := s.dec.Recover(s.srv.limits.MaxLiteral); rerr != nil {
			return s.outOfStep(rerr)
		}
	}
	code := de.Code()
	typ := imap.StatusBAD
	text := de.Msg
	switch de.Kind {
	case imapwire.ErrBadCharset:
		typ = imap.StatusNO
	case imapwire.ErrLiteralTooBig:
		// A synchronising literal refused before it was sent is a plain
		// refusal (RFC 4469 §4, RFC 7889 §4); a non-synchronising one
		// was read and gets BAD [TOOBIG] (RFC 7888 §4).
		if !de.Literal.NonSync {
			typ = imap.StatusNO
		}
		if text == "" {
			text = "Literal too big"
		}
	}
	if text == "" {
		text = "Syntax error"
	}
	s.w.status(tag, typ, code, "", text)
	return nil
}

// outOfStep ends a session whose input can no longer be parsed
// (RFC 7888 §4: a literal too big to skip).
func (s *session) outOfStep(err error) error {
	if de, ok := imapwire.IsError(err); ok {
		code := imap.ResponseCode("")
		if de.Kind == imapwire.ErrOutOfStep || de.Kind == imapwire.ErrLiteralTooBig {
			code = imap.CodeTooBig
		}
		return imap.ByeError(code, de.Msg)
	}
	return err
}

// bad builds a BAD error for semantic argument errors.
func bad(format string, args ...any) error {
	return imap.BadError("", fmt.Sprintf(format, args...))
}

// no builds a NO error.
func no(code imap.ResponseCode, text string) error {
	return imap.NoError(code, text)
}

// setTLSState records the state of a completed TLS handshake and the
// connection's one channel binding.
func (s *session) setTLSState(tc *tls.Conn) {
	st := tc.ConnectionState()
	s.tlsState = &st
	s.chanBind = sasl.ChannelBindingFromTLS(&st)
}

// saslConnState describes the connection for sasl. It always carries the
// same *sasl.ChannelBinding, so that once a -PLUS exchange used it,
// -PLUS is neither offered nor accepted again (RFC 9266 §4.1).
func (s *session) saslConnState() sasl.ConnState {
	return sasl.ConnState{TLS: s.tls, RemoteAddr: s.conn.RemoteAddr(), TLSState: s.tlsState, ChannelBinding: s.chanBind}
}
