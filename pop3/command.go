package pop3

import (
	"bytes"
	"strconv"
	"strings"
)

// Length limits on commands (RFC 1939 §3, RFC 2449 §4).
const (
	// MaxCommandLine is the longest command line, including CRLF.
	MaxCommandLine = 255
	// MaxArg is the longest argument with a fixed syntax (message numbers,
	// line counts, mechanism names).
	MaxArg = 40
)

// Command is a parsed command line.
type Command struct {
	// Name is the keyword in upper case ("RETR"); RFC 1939 §3 makes
	// keywords case-insensitive.
	Name string
	// Args are the arguments. For PASS the single argument is the rest of
	// the line, spaces included (RFC 1939 §7).
	Args []string
}

// ParseCommand parses a command line given without its CRLF. It enforces
// MaxCommandLine and, for arguments of fixed syntax, MaxArg (see the
// package documentation for the arguments exempted).
func ParseCommand(line []byte) (Command, error) {
	if len(line) > MaxCommandLine-2 {
		return Command{}, &SyntaxError{What: "command", Msg: "line longer than 255 octets"}
	}
	for _, c := range line {
		// Commands are printable text; NUL and other controls are refused
		// (tab is tolerated as a separator by nothing, so refuse it too).
		if c < 0x20 || c == 0x7f {
			return Command{}, &SyntaxError{What: "command", Msg: "control character in command"}
		}
	}
	kw, rest, _ := bytes.Cut(line, []byte(" "))
	// RFC 2449 §3: keyword = 3*4VCHAR.
	if len(kw) < 3 || len(kw) > 4 {
		return Command{}, &SyntaxError{What: "command", Msg: "keyword must be 3 or 4 characters"}
	}
	for _, c := range kw {
		if c <= 0x20 || c >= 0x7f {
			return Command{}, &SyntaxError{What: "command", Msg: "bad keyword"}
		}
	}
	cmd := Command{Name: strings.ToUpper(string(kw))}
	if cmd.Name == "PASS" {
		// RFC 1939 §7: the server may treat spaces in the argument as part
		// of the password.
		if len(rest) > 0 {
			cmd.Args = []string{string(rest)}
		}
		return cmd, nil
	}
	if len(rest) == 0 {
		return cmd, nil
	}
	for _, a := range bytes.Split(rest, []byte(" ")) {
		if len(a) == 0 {
			return Command{}, &SyntaxError{What: "command", Msg: "empty argument"}
		}
		cmd.Args = append(cmd.Args, string(a))
	}
	if !longArgs(cmd.Name) {
		for _, a := range cmd.Args {
			if len(a) > MaxArg {
				return Command{}, &SyntaxError{What: "command", Msg: "argument longer than 40 characters"}
			}
		}
	}
	return cmd, nil
}

// longArgs reports whether the command's arguments are bounded by the
// line limit only.
func longArgs(name string) bool {
	switch name {
	case "USER", "APOP", "AUTH":
		return true
	}
	return false
}

// ParseMsgNum parses a message number argument: a positive decimal
// without sign or leading zeros beyond one digit (RFC 1939 §3 "msg").
func ParseMsgNum(s string) (int, bool) {
	if len(s) == 0 || len(s) > 10 || s[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	return n, true
}

// ParseLineCount parses the line-count argument of TOP: a non-negative
// decimal (RFC 1939 §7).
func ParseLineCount(s string) (int, bool) {
	if len(s) == 0 || len(s) > 10 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
