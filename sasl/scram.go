package sasl

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SCRAM (RFC 5802, RFC 7677) message codec shared by client and server.
//
//	client-first  = gs2-header client-first-message-bare
//	gs2-header    = ("p=" cb-name / "n" / "y") "," ["a=" saslname] ","
//	first-bare    = ["m=" ...","] "n=" saslname ",r=" c-nonce ["," ext]
//	server-first  = ["m=" ...","] "r=" c-nonce s-nonce ",s=" salt ",i=" count ["," ext]
//	client-final  = "c=" base64(gs2-header [cbind-data]) ",r=" nonce ["," ext] ",p=" proof
//	server-final  = ("e=" error / "v=" base64(ServerSignature)) ["," ext]

var b64 = base64.StdEncoding

// escapeSASLName encodes "," as "=2C" and "=" as "=3D" (RFC 5802 §5.1).
func escapeSASLName(s string) string {
	if !strings.ContainsAny(s, ",=") {
		return s
	}
	r := strings.NewReplacer("=", "=3D", ",", "=2C")
	return r.Replace(s)
}

// unescapeSASLName reverses escapeSASLName; any other "=" sequence is an
// error (RFC 5802 §5.1: the server MUST fail then).
func unescapeSASLName(s string) (string, error) {
	if s == "" || !utf8.ValidString(s) {
		return "", errors.New("empty or invalid UTF-8 saslname")
	}
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", errors.New("bad escape in saslname")
		}
		i += 2
	}
	return b.String(), nil
}

// attr splits the next attribute "x=value" off msg. It returns the attribute
// letter, its value and the rest after the comma.
func attr(msg string) (name byte, value, rest string, ok bool) {
	if len(msg) < 2 || msg[1] != '=' || !isAlpha(msg[0]) {
		return 0, "", "", false
	}
	value, rest, _ = strings.Cut(msg[2:], ",")
	return msg[0], value, rest, true
}

// expectAttr is attr for an attribute that must be name with a non-empty
// value.
func expectAttr(msg string, name byte) (value, rest string, ok bool) {
	n, v, rest, ok := attr(msg)
	if !ok || n != name || v == "" {
		return "", "", false
	}
	return v, rest, true
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// validExtensions checks that the rest of a message is a list of attr-val
// (RFC 5802 §7 extensions); unknown ones are ignored.
func validExtensions(rest string) bool {
	for rest != "" {
		var ok bool
		var v string
		if _, v, rest, ok = attr(rest); !ok || v == "" {
			return false
		}
	}
	return true
}

// printableNonce reports whether s is a valid nonce: printable ASCII except
// "," (RFC 5802 §7).
func printableNonce(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}

// parseIterations parses a posit-number (RFC 5802 §7).
func parseIterations(s string) (int, bool) {
	if s == "" || s[0] < '1' || s[0] > '9' || len(s) > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}

// gs2Header is a parsed GS2 header (RFC 5802 §7).
type gs2Header struct {
	flag    byte   // 'n', 'y' or 'p'
	cbName  string // with 'p'
	authzid string // unescaped
	raw     string // as sent, including the trailing ","
}

// parseGS2Header parses the gs2-header at the start of a client-first
// message and returns the rest (client-first-message-bare).
func parseGS2Header(msg string) (gs2Header, string, error) {
	var h gs2Header
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return h, "", errors.New("missing gs2-header")
	}
	switch {
	case flag == "n" || flag == "y":
		h.flag = flag[0]
	case strings.HasPrefix(flag, "p=") && validCBName(flag[2:]):
		h.flag, h.cbName = 'p', flag[2:]
	default:
		return h, "", errors.New("bad gs2-cbind-flag")
	}
	az, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return h, "", errors.New("gs2-header not terminated")
	}
	if az != "" {
		if !strings.HasPrefix(az, "a=") {
			return h, "", errors.New("bad authzid")
		}
		name, err := unescapeSASLName(az[2:])
		if err != nil {
			return h, "", err
		}
		h.authzid = name
	}
	h.raw = msg[:len(msg)-len(bare)]
	return h, bare, nil
}

// validCBName checks cb-name = 1*(ALPHA / DIGIT / "." / "-").
func validCBName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !('0' <= c && c <= '9') && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// scramMech returns the hash and -PLUS flag of a SCRAM mechanism name.
func scramMech(mech string) (h SCRAMHash, plus bool, ok bool) {
	switch mech {
	case SCRAMSHA1:
		return SHA1, false, true
	case SCRAMSHA1Plus:
		return SHA1, true, true
	case SCRAMSHA256:
		return SHA256, false, true
	case SCRAMSHA256Plus:
		return SHA256, true, true
	}
	return 0, false, false
}

func scramMechName(h SCRAMHash, plus bool) string {
	name := "SCRAM-" + h.String()
	if plus {
		name += "-PLUS"
	}
	return name
}

func xorBytes(dst, a, b []byte) {
	for i := range dst {
		dst[i] = a[i] ^ b[i]
	}
}
