package imapserver

import (
	"bytes"
	"errors"
	"io"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapmsg"
)

// APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315), APPENDLIMIT
// (RFC 7889), UTF8 (RFC 6855 §4) and MULTIAPPEND (RFC 3502).
//
// A backend without MultiAppender gets each message streamed from the
// literal into User.Append. With MultiAppender the server cannot know
// before the end of the first literal whether more messages follow, so
// it reads every message of the command into memory first and hands them
// all to AppendMulti at the end, which adds all or none (RFC 3502 §6.3.11).
// Each message is bounded by Limits.MaxAppend (APPENDLIMIT) and the whole
// command by Limits.MaxAppend as well, so a command never holds more
// memory than one message of the largest size allowed; a synchronising
// literal over what is left is refused before it is sent (NO [TOOBIG],
// RFC 4469 §5, RFC 7888 §4) and nothing is appended.

// appendMessage is one message of an APPEND command as read.
type appendMessage struct {
	opts AppendOptions
	data []byte
}

// readAppendOpts reads append-opts up to the literal, which it leaves
// unread: [flag-list SP] [date-time SP] ["UTF8" SP "("]. It returns
// whether the literal is wrapped in UTF8 ( ) (RFC 6855 §4).
func (s *session) readAppendOpts() (AppendOptions, bool, error) {
	var opts AppendOptions
	c, err := s.dec.PeekByte()
	if err != nil {
		return opts, false, err
	}
	if c == '(' {
		flags, err := s.dec.ReadFlagList()
		if err != nil {
			return opts, false, err
		}
		for _, f := range flags {
			if !f.Equal(imap.FlagRecent) {
				opts.Flags = append(opts.Flags, string(f))
			}
		}
		if err := s.dec.SP(); err != nil {
			return opts, false, err
		}
		if c, err = s.dec.PeekByte(); err != nil {
			return opts, false, err
		}
	}
	if c == '"' {
		if opts.Date, err = s.dec.ReadDateTime(); err != nil {
			return opts, false, err
		}
		if err := s.dec.SP(); err != nil {
			return opts, false, err
		}
		if c, err = s.dec.PeekByte(); err != nil {
			return opts, false, err
		}
	}
	if c == 'U' || c == 'u' {
		a, err := s.dec.ReadAtomUpper()
		if err != nil {
			return opts, false, err
		}
		if a != "UTF8" || !s.utf8 {
			return opts, false, bad("unexpected %s", a)
		}
		if err := s.dec.SP(); err != nil {
			return opts, false, err
		}
		if err := s.dec.Expect('('); err != nil {
			return opts, false, err
		}
		return opts, true, nil
	}
	return opts, false, nil
}

// nextAppendMessage reports whether another message follows (SP) or the
// command ends (CRLF, which it reads).
func (s *session) nextAppendMessage() (bool, error) {
	if ok, err := s.dec.AtEOL(); err != nil {
		return false, err
	} else if ok {
		return false, s.crlf()
	}
	return true, s.dec.SP()
}

func cmdAppend(s *session, tag string, uid bool) error {
	name, err := s.readMailbox()
	if err != nil {
		return err
	}
	if err := s.dec.SP(); err != nil {
		return err
	}
	ma, multi := s.user.(MultiAppender)
	if !multi {
		return s.appendOne(tag, name)
	}
	var msgs []appendMessage
	left := s.srv.limits.MaxAppend
	for {
		opts, utf8Form, err := s.readAppendOpts()
		if err != nil {
			return err
		}
		r, info, err := s.dec.ReadLiteralReader(min(left, s.srv.limits.MaxAppend), true)
		if err != nil {
			return err
		}
		data := make([]byte, info.Size)
		if _, err := io.ReadFull(r, data); err != nil {
			return err
		}
		left -= info.Size
		opts.Binary = info.Binary
		if info.Binary {
			data = imapmsg.EncodeNULParts(data)
		}
		msgs = append(msgs, appendMessage{opts: opts, data: data})
		if utf8Form {
			if err := s.dec.Expect(')'); err != nil {
				return err
			}
		}
		more, err := s.nextAppendMessage()
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	var res []AppendResult
	if len(msgs) == 1 {
		m := msgs[0]
		var r AppendResult
		r, err = s.user.Append(s.ctx, name, bytes.NewReader(m.data), int64(len(m.data)), m.opts)
		res = []AppendResult{r}
	} else {
		batch := make([]AppendMessage, len(msgs))
		for i, m := range msgs {
			batch[i] = AppendMessage{Body: bytes.NewReader(m.data), Size: int64(len(m.data)), AppendOptions: m.opts}
		}
		res, err = ma.AppendMulti(s.ctx, name, batch)
		if err == nil && len(res) != len(msgs) {
			return errors.New("imapserver: AppendMulti returned a wrong number of results")
		}
	}
	if err != nil {
		return appendError(err)
	}
	return s.appendDone(tag, res)
}

// appendOne streams the one message of an APPEND into User.Append.
func (s *session) appendOne(tag, name string) error {
	opts, utf8Form, err := s.readAppendOpts()
	if err != nil {
		return err
	}
	r, info, err := s.dec.ReadLiteralReader(s.srv.limits.MaxAppend, true)
	if err != nil {
		return err
	}
	size := info.Size
	if opts.Binary = info.Binary; info.Binary {
		// Read whole (bounded by MaxAppend like a MULTIAPPEND's
		// messages) to re-encode parts that hold NUL.
		data := make([]byte, info.Size)
		if _, err := io.ReadFull(r, data); err != nil {
			return err
		}
		data = imapmsg.EncodeNULParts(data)
		r, size = bytes.NewReader(data), int64(len(data))
	}
	res, aerr := s.user.Append(s.ctx, name, r, size, opts)
	if utf8Form {
		if err := s.dec.Expect(')'); err != nil {
			return err
		}
	}
	if more, err := s.nextAppendMessage(); err != nil {
		return err
	} else if more {
		// MULTIAPPEND is not advertised for this backend.
		return bad("one message per APPEND")
	}
	if aerr != nil {
		return appendError(aerr)
	}
	return s.appendDone(tag, []AppendResult{res})
}

// appendError answers a failed APPEND: TRYCREATE for a missing mailbox
// (RFC 9051 §6.3.12), the backend's code otherwise (OVERQUOTA, TOOBIG).
func appendError(err error) error {
	if errors.Is(err, ErrNoSuchMailbox) {
		return no(imap.CodeTryCreate, "No such mailbox")
	}
	return err
}

// appendDone writes the tagged OK with APPENDUID (RFC 4315 §3): the UID,
// or the set of UIDs of a MULTIAPPEND.
func (s *session) appendDone(tag string, res []AppendResult) error {
	s.sendUpdates(true)
	arg := appendUint(nil, res[0].UIDValidity)
	arg = append(arg, ' ')
	uids := make([]uint32, len(res))
	for i, r := range res {
		uids[i] = r.UID
	}
	arg = imap.NumSetOf(uids...).AppendTo(arg)
	s.w.status(tag, imap.StatusOK, imap.CodeAppendUID, string(arg), "APPEND completed")
	return errHandled
}
