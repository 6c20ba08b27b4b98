package imapwire_test

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/posthorn/posthorn/imap/internal/imapwire"
)

// A server reads a command element by element and answers in order.
func ExampleDecoder() {
	in := "a1 UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])\r\n"
	d := imapwire.NewDecoder(bufio.NewReader(strings.NewReader(in)), imapwire.Limits{})
	tag, _ := d.ReadTag()
	_ = d.SP()
	name, _ := d.ReadAtomUpper()
	_ = d.SP()
	sub, _ := d.ReadAtomUpper()
	_ = d.SP()
	set, _ := d.ReadNumSet()
	_ = d.SP()
	atts, _ := d.ReadFetchAtts()
	err := d.ReadCRLF()
	fmt.Println(tag, name, sub, set, len(atts), atts[2].Section, err)
	// Output:
	// a1 UID FETCH 1:* 3 BODY.PEEK[HEADER.FIELDS (Subject)] <nil>
}

// An oversized synchronising literal is refused before the client sends
// it (RFC 7888 §4): the error says the decoder is still in step.
func ExampleDecoder_Recover() {
	in := "a2 APPEND INBOX {99999999}\r\na3 NOOP\r\n"
	d := imapwire.NewDecoder(bufio.NewReader(strings.NewReader(in)), imapwire.Limits{})
	d.Continue = func(imapwire.LiteralInfo) error { fmt.Println("+ Ready"); return nil }
	tag, _ := d.ReadTag()
	_ = d.SP()
	_, _ = d.ReadAtom()
	_ = d.SP()
	_, _ = d.ReadMailbox()
	_ = d.SP()
	_, _, err := d.ReadLiteralReader(10<<20, true)
	if e, ok := imapwire.IsError(err); ok {
		fmt.Printf("%s NO [%s] %v (in step: %v)\n", tag, e.Code(), e, e.InStep)
		if err := d.Recover(4096); err != nil {
			fmt.Println("* BYE", err)
			return
		}
	}
	next, _ := d.ReadTag()
	fmt.Println("next command:", next)
	// Output:
	// a2 NO [TOOBIG] imapwire: literal too big (in step: true)
	// next command: a3
}

// A client command keeps its literals as structure: the sender closes
// each header ("}" CRLF, or "+}" CRLF under LITERAL+) where Segments says,
// so data that reads like a literal header is only data.
func ExampleCommand() {
	var c imapwire.Command
	c.Raw("LOGIN ")
	c.AString("alice", false)
	c.SP()
	c.AString("p{1}\r\nq", false)
	_ = c.Segments(func(b []byte, lit bool, n int64) error {
		fmt.Printf("%q literal=%v size=%d\n", b, lit, n)
		return nil
	})
	// Output:
	// "LOGIN alice {7" literal=true size=7
	// "p{1}\r\nq" literal=false size=0
}
