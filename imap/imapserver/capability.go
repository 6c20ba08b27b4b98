package imapserver

import (
	"bufio"
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/imap"
)

// canLogin reports whether LOGIN (and plaintext mechanisms) may be used:
// only under TLS unless AllowInsecureAuth (RFC 9051 §6.2.3, §11.1).
func (s *session) canLogin() bool {
	return s.tls || s.srv.AllowInsecureAuth
}

// writeCaps writes the capability list for the session's state,
// through Server.CapabilityFilter when there is one.
func (s *session) writeCaps() {
	f := s.srv.CapabilityFilter
	if f == nil {
		s.writeAllCaps()
		return
	}
	// Rare (tests, policy): write the list aside, filter, write it.
	saved := s.w.Writer
	var b bytes.Buffer
	s.w.Writer = bufio.NewWriter(&b)
	s.writeAllCaps()
	s.w.Writer.Flush()
	s.w.Writer = saved
	s.w.WriteString(strings.Join(f(strings.Fields(b.String())), " "))
}

// writeAllCaps writes the capability list for the session's state.
func (s *session) writeAllCaps() {
	w := &s.w
	w.WriteString("IMAP4rev1 IMAP4rev2")
	if s.state == stateNotAuth {
		if s.srv.TLSConfig != nil && !s.tls {
			w.WriteString(" STARTTLS")
		}
		if !s.canLogin() {
			w.WriteString(" LOGINDISABLED")
		}
		for _, m := range s.srv.registry.Offer(s.saslConnState()) {
			w.WriteString(" AUTH=")
			w.WriteString(m)
		}
		w.WriteString(" SASL-IR")
	}
	if s.srv.LiteralMinus {
		w.WriteString(" LITERAL-")
	} else {
		w.WriteString(" LITERAL+")
	}
	w.WriteString(" ENABLE IDLE UIDPLUS MOVE NAMESPACE ID UNSELECT CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS STATUS=SIZE ESEARCH SEARCHRES UTF8=ACCEPT")
	w.WriteString(" APPENDLIMIT=")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), s.srv.limits.MaxAppend, 10))
	w.WriteString(capsExtra)
	s.writeSyncCaps()
	s.writeScaleCaps()
}

// capsExtra lists capabilities whose commands live in other files and
// are always on.
const capsExtra = " BINARY"

// CAPABILITY (RFC 9051 §6.1.1).
func cmdCapability(s *session, tag string, uid bool) error {
	if err := s.crlf(); err != nil {
		return err
	}
	s.w.WriteString("* CAPABILITY ")
	s.writeCaps()
	s.w.crlf()
	return nil
}

// NOOP (RFC 9051 §6.1.2): the updates are sent by finish.
func cmdNoop(s *session, tag string, uid bool) error {
	return s.crlf()
}

// CHECK (RFC 3501 §6.4.1; gone from IMAP4rev2, kept as NOOP).
func cmdCheck(s *session, tag string, uid bool) error {
	return s.crlf()
}

// LOGOUT (RFC 9051 §6.1.3).
func cmdLogout(s *session, tag string, uid bool) error {
	if err := s.crlf(); err != nil {
		return err
	}
	s.w.WriteString("* BYE Logging out\r\n")
	s.w.status(tag, imap.StatusOK, "", "", "LOGOUT completed")
	s.state = stateLogout
	s.flush()
	return errClose
}

// ID (RFC 2971): the client's parameters are read and ignored (not
// logged, they may identify a person).
func cmdID(s *session, tag string, uid bool) error {
	if err := s.dec.SP(); err != nil {
		return err
	}
	if ok, err := s.dec.Byte('('); err != nil {
		return err
	} else if ok {
		for n := 0; ; n++ {
			if ok, err := s.dec.Byte(')'); err != nil {
				return err
			} else if ok {
				break
			}
			if n > 0 {
				if err := s.dec.SP(); err != nil {
					return err
				}
			}
			if n >= 60 {
				return bad("too many ID parameters")
			}
			if _, _, err := s.dec.ReadNString(); err != nil {
				return err
			}
		}
	} else if err := s.dec.ReadNIL(); err != nil {
		return err
	}
	if err := s.crlf(); err != nil {
		return err
	}
	s.w.WriteString(`* ID ("name" "posthorn")` + "\r\n")
	return nil
}

// ENABLE (RFC 5161, RFC 9051 §6.3.1).
func cmdEnable(s *session, tag string, uid bool) error {
	var enabled []string
	condstore := false
	for {
		if ok, err := s.dec.AtEOL(); err != nil {
			return err
		} else if ok {
			break
		}
		if err := s.dec.SP(); err != nil {
			return err
		}
		c, err := s.dec.ReadAtomUpper()
		if err != nil {
			return err
		}
		switch c {
		case "IMAP4REV2":
			if !s.rev2 {
				s.rev2 = true
				s.utf8 = true
				enabled = append(enabled, "IMAP4rev2")
			}
		case "UTF8=ACCEPT":
			if !s.utf8 || !s.rev2 {
				s.utf8 = true
				enabled = append(enabled, "UTF8=ACCEPT")
			}
		case "CONDSTORE", "QRESYNC":
			// RFC 7162 §3.2.3: QRESYNC implies CONDSTORE; each is
			// listed when it was asked for and is new.
			if !s.syncOffered() {
				break
			}
			if c == "QRESYNC" && !s.cs.qresync {
				s.cs.qresync = true
				enabled = append(enabled, c)
			}
			if c == "CONDSTORE" && !s.cs.condstore && !slices.Contains(enabled, c) {
				enabled = append(enabled, c)
			}
			condstore = true
		}
	}
	if err := s.crlf(); err != nil {
		return err
	}
	s.w.utf8 = s.utf8
	s.dec.UTF8 = s.utf8
	s.w.WriteString("* ENABLED")
	if len(enabled) > 0 {
		s.w.WriteString(" " + strings.Join(enabled, " "))
	}
	s.w.crlf()
	if condstore {
		// A CONDSTORE enabling command (RFC 7162 §3.1): with a mailbox
		// selected, its HIGHESTMODSEQ follows.
		s.enableCondstore()
	}
	return nil
}
