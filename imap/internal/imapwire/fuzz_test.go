package imapwire

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// parseCommand drives the decoder through one command the way a server
// does: tag SP name [SP arguments] CRLF.
func parseCommand(d *Decoder) (string, error) {
	if _, err := d.ReadTag(); err != nil {
		return "", err
	}
	if err := d.SP(); err != nil {
		return "", err
	}
	name, err := d.ReadAtomUpper()
	if err != nil {
		return "", err
	}
	if name == "UID" {
		if err := d.SP(); err != nil {
			return "", err
		}
		if name, err = d.ReadAtomUpper(); err != nil {
			return "", err
		}
	}
	sp := func() error { return d.SP() }
	switch name {
	case "FETCH":
		if err := sp(); err != nil {
			return name, err
		}
		if _, err := d.ReadNumSet(); err != nil {
			return name, err
		}
		if err := sp(); err != nil {
			return name, err
		}
		if _, err := d.ReadFetchAtts(); err != nil {
			return name, err
		}
	case "SEARCH":
		if err := sp(); err != nil {
			return name, err
		}
		if _, err := d.ReadSearchCriteria(); err != nil {
			return name, err
		}
	case "STORE":
		if err := sp(); err != nil {
			return name, err
		}
		if _, err := d.ReadNumSet(); err != nil {
			return name, err
		}
		if err := sp(); err != nil {
			return name, err
		}
		if _, err := d.ReadAtomUpper(); err != nil {
			return name, err
		}
		if err := sp(); err != nil {
			return name, err
		}
		if _, err := d.ReadFlags(); err != nil {
			return name, err
		}
	case "APPEND":
		if err := sp(); err != nil {
			return name, err
		}
		if _, err := d.ReadMailbox(); err != nil {
			return name, err
		}
		if err := sp(); err != nil {
			return name, err
		}
		for {
			c, err := d.PeekByte()
			if err != nil {
				return name, err
			}
			if c == '(' {
				if _, err := d.ReadFlagList(); err != nil {
					return name, err
				}
			} else if c == '"' {
				if _, err := d.ReadDateTime(); err != nil {
					return name, err
				}
			} else {
				break
			}
			if err := sp(); err != nil {
				return name, err
			}
		}
		r, _, err := d.ReadLiteralReader(1<<16, true)
		if err != nil {
			return name, err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return name, err
		}
	case "LOGIN", "LIST", "RENAME":
		for range 2 {
			if err := sp(); err != nil {
				return name, err
			}
			if _, err := d.ReadListMailbox(); err != nil {
				return name, err
			}
		}
	case "SELECT", "EXAMINE", "CREATE", "DELETE", "STATUS":
		if err := sp(); err != nil {
			return name, err
		}
		if _, err := d.ReadMailbox(); err != nil {
			return name, err
		}
		if name == "STATUS" {
			if err := sp(); err != nil {
				return name, err
			}
			err := d.ReadList(false, func() error { _, err := d.ReadAtomUpper(); return err })
			if err != nil {
				return name, err
			}
		}
	default:
		// argument-less commands
	}
	return name, d.ReadCRLF()
}

// runSession parses commands until the input ends or can no longer be
// kept in step, and returns how many commands parsed and failed.
func runSession(in []byte, lim Limits) (ok, bad int) {
	d := NewDecoder(bufio.NewReaderSize(bytes.NewReader(in), 4096), lim)
	d.Continue = func(LiteralInfo) error { return nil }
	for {
		_, err := parseCommand(d)
		if err == nil {
			ok++
			continue
		}
		if _, isErr := IsError(err); !isErr {
			return
		}
		bad++
		if d.Recover(1<<16) != nil {
			return
		}
	}
}

var fuzzSeeds = []string{
	"a1 CAPABILITY\r\n",
	"a2 LOGIN {4}\r\nuser {4+}\r\npass\r\n",
	"a3 SELECT INBOX\r\n",
	"a4 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)\r\n",
	"a5 FETCH 1,3:7 (BODY.PEEK[HEADER.FIELDS (From Subject)]<0.1024> BINARY[1.2] BODYSTRUCTURE)\r\n",
	"a6 SEARCH RETURN (MIN MAX) CHARSET UTF-8 OR FROM alice (SUBJECT {3}\r\nfoo SINCE 1-Jan-2024) NOT DELETED\r\n",
	"a7 APPEND INBOX (\\Seen) \" 1-Jan-2024 10:00:00 +0000\" ~{5+}\r\nhello\r\n",
	"a8 STORE 1:5 +FLAGS.SILENT (\\Deleted $Junk)\r\n",
	"a9 LIST \"\" %\r\n",
	"b1 STATUS INBOX (MESSAGES UIDNEXT SIZE)\r\n",
	"b2 SEARCH ((((((ALL))))))\r\nb3 NOOP\r\n",
	"b4 FETCH 1 (BODY[\r\nb5 LOGOUT\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		runSession(in, Limits{MaxLine: 1024, MaxLiteral: 4096, MaxLiterals: 8, MaxDepth: 16})
	})
}

func TestSessionSeeds(t *testing.T) {
	var all []byte
	for _, s := range fuzzSeeds[:len(fuzzSeeds)-3] {
		all = append(all, s...)
	}
	ok, bad := runSession(all, Limits{})
	if ok != len(fuzzSeeds)-3 || bad != 0 {
		t.Fatalf("ok %d bad %d", ok, bad)
	}
	// b4 fails, b5 and then the HTTP lines are each a bad command.
	ok, bad = runSession([]byte(fuzzSeeds[len(fuzzSeeds)-2]), Limits{})
	if ok != 1 || bad != 1 {
		t.Fatalf("b4/b5: ok %d bad %d", ok, bad)
	}
}

var benchCommands = map[string]string{
	"UIDFetch": "a4 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)\r\n",
	"Fetch":    "a5 FETCH 1,3:7 (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject Date)] BODYSTRUCTURE)\r\n",
	"Search":   "a6 UID SEARCH RETURN (ALL) UNSEEN SINCE 1-Jan-2024 OR FROM alice SUBJECT report\r\n",
	"Append":   "a7 APPEND INBOX (\\Seen) \" 1-Jan-2024 10:00:00 +0000\" {512+}\r\n" + string(bytes.Repeat([]byte("x"), 512)) + "\r\n",
}

type repeatReader struct {
	b []byte
	i int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.i:])
		n += c
		r.i = (r.i + c) % len(r.b)
	}
	return n, nil
}

func BenchmarkParseCommand(b *testing.B) {
	for _, name := range []string{"UIDFetch", "Fetch", "Search", "Append"} {
		cmd := benchCommands[name]
		b.Run(name, func(b *testing.B) {
			d := NewDecoder(bufio.NewReaderSize(&repeatReader{b: []byte(cmd)}, 4096), Limits{})
			b.ReportAllocs()
			b.SetBytes(int64(len(cmd)))
			for b.Loop() {
				if _, err := parseCommand(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
