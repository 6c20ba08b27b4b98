package imapserver

import (
	"errors"

	"github.com/posthorn/posthorn/imap"
)

// APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315) and APPENDLIMIT
// (RFC 7889). The literal streams into the backend; a synchronising
// literal over the limit is refused before the client sends it
// (NO [TOOBIG], RFC 4469 §5 and RFC 7888 §4).
func cmdAppend(s *session, tag string, uid bool) error {
	if err := s.dec.SP(); err != nil {
		return err
	}
	name, err := s.readMailbox()
	if err != nil {
		return err
	}
	if err := s.dec.SP(); err != nil {
		return err
	}
	var opts AppendOptions
	c, err := s.dec.PeekByte()
	if err != nil {
		return err
	}
	if c == '(' {
		flags, err := s.dec.ReadFlagList()
		if err != nil {
			return err
		}
		for _, f := range flags {
			if !f.Equal(imap.FlagRecent) {
				opts.Flags = append(opts.Flags, string(f))
			}
		}
		if err := s.dec.SP(); err != nil {
			return err
		}
		if c, err = s.dec.PeekByte(); err != nil {
			return err
		}
	}
	if c == '"' {
		if opts.Date, err = s.dec.ReadDateTime(); err != nil {
			return err
		}
		if err := s.dec.SP(); err != nil {
			return err
		}
	}
	// RFC 6855 §4: APPEND ... UTF8 (literal8) once UTF8=ACCEPT is enabled.
	utf8Form := false
	if c == 'U' || c == 'u' {
		a, err := s.dec.ReadAtomUpper()
		if err != nil {
			return err
		}
		if a != "UTF8" || !s.utf8 {
			return bad("unexpected %s", a)
		}
		if err := s.dec.SP(); err != nil {
			return err
		}
		if err := s.dec.Expect('('); err != nil {
			return err
		}
		utf8Form = true
	}
	r, info, err := s.dec.ReadLiteralReader(s.srv.limits.MaxAppend, true)
	if err != nil {
		return err
	}
	res, aerr := s.user.Append(s.ctx, name, r, info.Size, opts)
	if utf8Form {
		if err := s.dec.Expect(')'); err != nil {
			return err
		}
	}
	if err := s.crlf(); err != nil {
		return err
	}
	if errors.Is(aerr, ErrNoSuchMailbox) {
		return no(imap.CodeTryCreate, "No such mailbox") // RFC 9051 §6.3.12
	}
	if aerr != nil {
		return aerr
	}
	s.sendUpdates(true)
	arg := appendUint(nil, res.UIDValidity)
	arg = append(arg, ' ')
	arg = appendUint(arg, res.UID)
	s.w.status(tag, imap.StatusOK, imap.CodeAppendUID, string(arg), "APPEND completed")
	return errHandled
}
