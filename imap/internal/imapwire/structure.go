package imapwire

import (
	"strconv"

	"github.com/posthorn/posthorn/imap"
)

// AppendEnvelope appends env in ENVELOPE syntax (RFC 9051 §7.5.2, §9
// envelope). Strings with 8-bit data are written as literals, which is
// valid in every session, so the result can be cached once per message.
func AppendEnvelope(b []byte, env *imap.Envelope) []byte {
	b = append(b, '(')
	b = AppendNString(b, env.Date, false)
	b = append(b, ' ')
	b = AppendNString(b, env.Subject, false)
	for _, l := range [...][]imap.Address{env.From, env.Sender, env.ReplyTo, env.To, env.Cc, env.Bcc} {
		b = append(b, ' ')
		b = appendAddressList(b, l)
	}
	b = append(b, ' ')
	b = AppendNString(b, env.InReplyTo, false)
	b = append(b, ' ')
	b = AppendNString(b, env.MessageID, false)
	return append(b, ')')
}

// appendAddressList writes "(" 1*address ")" / nil; addresses are not
// separated by spaces (RFC 9051 §9, env-from).
func appendAddressList(b []byte, l []imap.Address) []byte {
	if len(l) == 0 {
		return append(b, "NIL"...)
	}
	b = append(b, '(')
	for i := range l {
		a := &l[i]
		b = append(b, '(')
		b = AppendNString(b, a.Name, false)
		b = append(b, ' ')
		b = AppendNString(b, a.ADL, false)
		b = append(b, ' ')
		b = AppendNString(b, a.Mailbox, false)
		b = append(b, ' ')
		b = AppendNString(b, a.Host, false)
		b = append(b, ')')
	}
	return append(b, ')')
}

// AppendBodyStructure appends bs as a body (RFC 9051 §9): with extension
// data for BODYSTRUCTURE (extended) or without for BODY. Like
// AppendEnvelope the result is valid in every session.
func AppendBodyStructure(b []byte, bs *imap.BodyStructure, extended bool) []byte {
	b = append(b, '(')
	if bs.IsMultipart() {
		for _, c := range bs.Children {
			b = AppendBodyStructure(b, c, extended)
		}
		b = append(b, ' ')
		b = AppendString(b, bs.SubType, false)
		if extended {
			// body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
			b = append(b, ' ')
			b = appendParams(b, bs.Params)
			b = appendExtTail(b, bs)
		}
		return append(b, ')')
	}
	b = AppendString(b, bs.MediaType, false)
	b = append(b, ' ')
	b = AppendString(b, bs.SubType, false)
	b = append(b, ' ')
	b = appendParams(b, bs.Params)
	b = append(b, ' ')
	b = AppendNString(b, bs.ID, false)
	b = append(b, ' ')
	b = AppendNString(b, bs.Description, false)
	b = append(b, ' ')
	enc := bs.Encoding
	if enc == "" {
		enc = "7BIT"
	}
	b = AppendString(b, enc, false)
	b = append(b, ' ')
	b = strconv.AppendInt(b, bs.Size, 10)
	switch {
	case bs.Body != nil && bs.Envelope != nil:
		// body-type-msg: envelope SP body SP body-fld-lines
		b = append(b, ' ')
		b = AppendEnvelope(b, bs.Envelope)
		b = append(b, ' ')
		b = AppendBodyStructure(b, bs.Body, extended)
		b = append(b, ' ')
		b = strconv.AppendInt(b, bs.Lines, 10)
	case isText(bs.MediaType):
		b = append(b, ' ')
		b = strconv.AppendInt(b, bs.Lines, 10)
	}
	if extended {
		// body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
		b = append(b, ' ')
		b = AppendNString(b, bs.MD5, false)
		b = appendExtTail(b, bs)
	}
	return append(b, ')')
}

func isText(t string) bool {
	return len(t) == 4 && (t[0]|0x20) == 't' && (t[1]|0x20) == 'e' && (t[2]|0x20) == 'x' && (t[3]|0x20) == 't'
}

// appendExtTail writes SP body-fld-dsp SP body-fld-lang SP body-fld-loc.
// All three are always written so that clients find them at fixed
// positions, as common servers do.
func appendExtTail(b []byte, bs *imap.BodyStructure) []byte {
	b = append(b, ' ')
	if bs.Disposition == "" {
		b = append(b, "NIL"...)
	} else {
		b = append(b, '(')
		b = AppendString(b, bs.Disposition, false)
		b = append(b, ' ')
		b = appendParams(b, bs.DispositionParams)
		b = append(b, ')')
	}
	b = append(b, ' ')
	switch len(bs.Language) {
	case 0:
		b = append(b, "NIL"...)
	case 1:
		b = AppendString(b, bs.Language[0], false)
	default:
		b = append(b, '(')
		for i, l := range bs.Language {
			if i > 0 {
				b = append(b, ' ')
			}
			b = AppendString(b, l, false)
		}
		b = append(b, ')')
	}
	b = append(b, ' ')
	return AppendNString(b, bs.Location, false)
}

// appendParams writes body-fld-param: "(" string SP string ... ")" or NIL.
func appendParams(b []byte, ps []imap.Param) []byte {
	if len(ps) == 0 {
		return append(b, "NIL"...)
	}
	b = append(b, '(')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ' ')
		}
		b = AppendString(b, p.Name, false)
		b = append(b, ' ')
		b = AppendString(b, p.Value, false)
	}
	return append(b, ')')
}
