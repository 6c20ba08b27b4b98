package pop3

import (
	"bytes"
	"strconv"
	"strings"
)

// Capabilities is the answer to CAPA (RFC 2449 §5): each tag in upper
// case mapped to its arguments.
type Capabilities map[string][]string

// ParseCapability parses one line of a CAPA response, given without its
// CRLF and already dot-unstuffed.
func ParseCapability(line []byte) (tag string, args []string, err error) {
	if len(line) > MaxResponseLine-2 {
		return "", nil, &SyntaxError{What: "capability", Msg: "line longer than 512 octets"}
	}
	f := bytes.Fields(line)
	if len(f) == 0 {
		return "", nil, &SyntaxError{What: "capability", Msg: "empty line"}
	}
	tag = strings.ToUpper(string(f[0]))
	for _, a := range f[1:] {
		args = append(args, string(a))
	}
	return tag, args, nil
}

// Has reports whether the capability tag is present.
func (c Capabilities) Has(tag string) bool {
	_, ok := c[strings.ToUpper(tag)]
	return ok
}

// SASL returns the mechanisms listed by the SASL capability (RFC 5034 §5)
// in upper case.
func (c Capabilities) SASL() []string {
	var m []string
	for _, a := range c["SASL"] {
		m = append(m, strings.ToUpper(a))
	}
	return m
}

// Expire returns the EXPIRE argument (RFC 2449 §6.7): the minimum number
// of days the server keeps messages, or -1 for NEVER. ok is false when the
// capability is absent or malformed.
func (c Capabilities) Expire() (days int, ok bool) {
	return c.intArg("EXPIRE", "NEVER")
}

// LoginDelay returns the LOGIN-DELAY argument in seconds (RFC 2449 §6.5).
func (c Capabilities) LoginDelay() (seconds int, ok bool) {
	return c.intArg("LOGIN-DELAY", "")
}

func (c Capabilities) intArg(tag, never string) (int, bool) {
	a, present := c[tag]
	if !present || len(a) == 0 {
		return 0, false
	}
	if never != "" && strings.EqualFold(a[0], never) {
		return -1, true
	}
	n, err := strconv.Atoi(a[0])
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// UTF8User reports whether the UTF8 capability carries the USER argument
// (RFC 6856 §2.2): the server accepts UTF-8 user names and passwords in
// USER, PASS and APOP.
func (c Capabilities) UTF8User() bool {
	for _, a := range c["UTF8"] {
		if strings.EqualFold(a, "USER") {
			return true
		}
	}
	return false
}

// Implementation returns the IMPLEMENTATION argument (RFC 2449 §6.9).
func (c Capabilities) Implementation() string {
	return strings.Join(c["IMPLEMENTATION"], " ")
}
