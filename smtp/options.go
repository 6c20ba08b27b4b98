package smtp

import (
	"strconv"
	"strings"
)

// BodyType is the BODY parameter of MAIL (RFC 6152, RFC 3030).
type BodyType string

// Body types.
const (
	Body7Bit       BodyType = "7BIT"
	Body8BitMIME   BodyType = "8BITMIME"
	BodyBinaryMIME BodyType = "BINARYMIME"
)

// DSNReturn is the RET parameter of MAIL (RFC 3461 §4.3).
type DSNReturn string

// RET values.
const (
	ReturnFull    DSNReturn = "FULL"
	ReturnHeaders DSNReturn = "HDRS"
)

// DSNNotify is the NOTIFY parameter of RCPT (RFC 3461 §4.1) as flags.
type DSNNotify uint8

// NOTIFY flags. NotifyNever excludes the others.
const (
	NotifyNever DSNNotify = 1 << iota
	NotifySuccess
	NotifyFailure
	NotifyDelay
)

// MailOptions are the MAIL parameters this suite understands.
type MailOptions struct {
	// Size is the declared message size (RFC 1870); 0 when not given.
	Size int64
	// Body is the declared body type; "" when not given.
	Body BodyType
	// SMTPUTF8 is set when the transaction needs RFC 6531.
	SMTPUTF8 bool
	// RequireTLS is the RFC 8689 REQUIRETLS flag.
	RequireTLS bool
	// Return is the RFC 3461 RET value; "" when not given.
	Return DSNReturn
	// EnvelopeID is the RFC 3461 ENVID, xtext-decoded; "" when not given.
	EnvelopeID string
	// Auth is the RFC 4954 §5 AUTH= mailbox, xtext-decoded; "<>" means the
	// submitter is not trusted to name one; "" when not given.
	Auth string
}

// RcptOptions are the RCPT parameters this suite understands.
type RcptOptions struct {
	// Notify holds the RFC 3461 NOTIFY flags; 0 when not given.
	Notify DSNNotify
	// OriginalRecipientType is the ORCPT addr-type ("rfc822", "utf-8").
	OriginalRecipientType string
	// OriginalRecipient is the ORCPT address, xtext-decoded.
	OriginalRecipient string
}

func paramErr(p Param, reason string) error {
	s := p.Key
	if p.HasValue {
		s += "=" + p.Value
	}
	return &ParamError{Param: s, Reason: reason}
}

// ParseMailOptions interprets MAIL parameters. Unknown keywords and
// repeated ones are errors (RFC 5321 §4.1.1.11: 555).
func ParseMailOptions(ps Params) (MailOptions, error) {
	var o MailOptions
	var seen uint16
	for _, p := range ps {
		key := strings.ToUpper(p.Key)
		if bit := mailParamBit(key); seen&bit != 0 {
			return o, paramErr(p, "repeated")
		} else {
			seen |= bit
		}
		switch key {
		case "SIZE":
			n, err := strconv.ParseInt(p.Value, 10, 64)
			if err != nil || n < 0 || len(p.Value) > 20 {
				return o, paramErr(p, "bad size")
			}
			o.Size = n
		case "BODY":
			switch b := BodyType(strings.ToUpper(p.Value)); b {
			case Body7Bit, Body8BitMIME, BodyBinaryMIME:
				o.Body = b
			default:
				return o, paramErr(p, "unknown body type")
			}
		case "SMTPUTF8":
			if p.HasValue {
				return o, paramErr(p, "takes no value")
			}
			o.SMTPUTF8 = true
		case "REQUIRETLS":
			if p.HasValue {
				return o, paramErr(p, "takes no value")
			}
			o.RequireTLS = true
		case "RET":
			switch r := DSNReturn(strings.ToUpper(p.Value)); r {
			case ReturnFull, ReturnHeaders:
				o.Return = r
			default:
				return o, paramErr(p, "bad RET")
			}
		case "ENVID":
			v, err := DecodeXtext(p.Value)
			if err != nil || p.Value == "" || len(v) > 100 {
				return o, paramErr(p, "bad ENVID")
			}
			o.EnvelopeID = v
		case "AUTH":
			v, err := DecodeXtext(p.Value)
			if err != nil || p.Value == "" {
				return o, paramErr(p, "bad AUTH")
			}
			o.Auth = v
		default:
			return o, paramErr(p, "unknown parameter")
		}
	}
	return o, nil
}

// Params returns the wire parameters for o, checking every value.
func (o *MailOptions) Params() (Params, error) {
	var ps Params
	if o.Size > 0 {
		ps = append(ps, Param{Key: "SIZE", Value: strconv.FormatInt(o.Size, 10), HasValue: true})
	}
	switch o.Body {
	case "":
	case Body7Bit, Body8BitMIME, BodyBinaryMIME:
		ps = append(ps, Param{Key: "BODY", Value: string(o.Body), HasValue: true})
	default:
		return nil, &ParamError{Param: "BODY=" + string(o.Body), Reason: "unknown body type"}
	}
	if o.SMTPUTF8 {
		ps = append(ps, Param{Key: "SMTPUTF8"})
	}
	if o.RequireTLS {
		ps = append(ps, Param{Key: "REQUIRETLS"})
	}
	switch o.Return {
	case "":
	case ReturnFull, ReturnHeaders:
		ps = append(ps, Param{Key: "RET", Value: string(o.Return), HasValue: true})
	default:
		return nil, &ParamError{Param: "RET=" + string(o.Return), Reason: "bad RET"}
	}
	if o.EnvelopeID != "" {
		if len(o.EnvelopeID) > 100 {
			return nil, &ParamError{Param: "ENVID", Reason: "longer than 100 octets"}
		}
		ps = append(ps, Param{Key: "ENVID", Value: EncodeXtext(o.EnvelopeID), HasValue: true})
	}
	if o.Auth != "" {
		ps = append(ps, Param{Key: "AUTH", Value: EncodeXtext(o.Auth), HasValue: true})
	}
	return ps, nil
}

// ParseRcptOptions interprets RCPT parameters (NOTIFY, ORCPT).
func ParseRcptOptions(ps Params) (RcptOptions, error) {
	var o RcptOptions
	var seen uint16
	for _, p := range ps {
		key := strings.ToUpper(p.Key)
		if bit := mailParamBit(key); seen&bit != 0 {
			return o, paramErr(p, "repeated")
		} else {
			seen |= bit
		}
		switch key {
		case "NOTIFY":
			for v := range strings.SplitSeq(strings.ToUpper(p.Value), ",") {
				switch v {
				case "NEVER":
					o.Notify |= NotifyNever
				case "SUCCESS":
					o.Notify |= NotifySuccess
				case "FAILURE":
					o.Notify |= NotifyFailure
				case "DELAY":
					o.Notify |= NotifyDelay
				default:
					return o, paramErr(p, "bad NOTIFY")
				}
			}
			// RFC 3461 §4.1: NEVER stands alone.
			if o.Notify&NotifyNever != 0 && o.Notify != NotifyNever {
				return o, paramErr(p, "NEVER combined with other values")
			}
		case "ORCPT":
			typ, addr, ok := strings.Cut(p.Value, ";")
			if !ok || !isKeyword(typ) {
				return o, paramErr(p, "bad ORCPT")
			}
			v, err := DecodeXtext(addr)
			if err != nil || addr == "" {
				return o, paramErr(p, "bad ORCPT")
			}
			o.OriginalRecipientType, o.OriginalRecipient = typ, v
		default:
			return o, paramErr(p, "unknown parameter")
		}
	}
	return o, nil
}

// Params returns the wire parameters for o, checking every value.
func (o *RcptOptions) Params() (Params, error) {
	var ps Params
	if o.Notify != 0 {
		if o.Notify&NotifyNever != 0 && o.Notify != NotifyNever {
			return nil, &ParamError{Param: "NOTIFY", Reason: "NEVER combined with other values"}
		}
		var vs []string
		if o.Notify&NotifyNever != 0 {
			vs = append(vs, "NEVER")
		}
		if o.Notify&NotifySuccess != 0 {
			vs = append(vs, "SUCCESS")
		}
		if o.Notify&NotifyFailure != 0 {
			vs = append(vs, "FAILURE")
		}
		if o.Notify&NotifyDelay != 0 {
			vs = append(vs, "DELAY")
		}
		ps = append(ps, Param{Key: "NOTIFY", Value: strings.Join(vs, ","), HasValue: true})
	}
	if o.OriginalRecipient != "" {
		typ := o.OriginalRecipientType
		if typ == "" {
			typ = "rfc822"
		}
		if !isKeyword(typ) {
			return nil, &ParamError{Param: "ORCPT", Reason: "bad address type"}
		}
		ps = append(ps, Param{Key: "ORCPT", Value: typ + ";" + EncodeXtext(o.OriginalRecipient), HasValue: true})
	}
	return ps, nil
}

// mailParamBit gives each known parameter a bit for duplicate detection;
// unknown ones get 0 and are rejected by the caller's switch.
func mailParamBit(key string) uint16 {
	switch key {
	case "SIZE":
		return 1 << 0
	case "BODY":
		return 1 << 1
	case "SMTPUTF8":
		return 1 << 2
	case "REQUIRETLS":
		return 1 << 3
	case "RET":
		return 1 << 4
	case "ENVID":
		return 1 << 5
	case "AUTH":
		return 1 << 6
	case "NOTIFY":
		return 1 << 7
	case "ORCPT":
		return 1 << 8
	}
	return 0
}

// AppendParams appends the wire parameters for o (" KEY=VALUE" each) to b,
// checking every value as Params does, without building a Params.
func (o *MailOptions) AppendParams(b []byte) ([]byte, error) {
	if o.Size > 0 {
		b = append(b, " SIZE="...)
		b = strconv.AppendInt(b, o.Size, 10)
	}
	switch o.Body {
	case "":
	case Body7Bit, Body8BitMIME, BodyBinaryMIME:
		b = append(b, " BODY="...)
		b = append(b, o.Body...)
	default:
		return b, &ParamError{Param: "BODY=" + string(o.Body), Reason: "unknown body type"}
	}
	if o.SMTPUTF8 {
		b = append(b, " SMTPUTF8"...)
	}
	if o.RequireTLS {
		b = append(b, " REQUIRETLS"...)
	}
	if o.Return == "" && o.EnvelopeID == "" && o.Auth == "" {
		return b, nil
	}
	ps, err := (&MailOptions{Return: o.Return, EnvelopeID: o.EnvelopeID, Auth: o.Auth}).Params()
	if err != nil {
		return b, err
	}
	return ps.Append(b)
}

// AppendParams appends the wire parameters for o to b.
func (o *RcptOptions) AppendParams(b []byte) ([]byte, error) {
	if o.Notify == 0 && o.OriginalRecipient == "" {
		return b, nil
	}
	ps, err := o.Params()
	if err != nil {
		return b, err
	}
	return ps.Append(b)
}
