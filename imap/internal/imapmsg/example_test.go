package imapmsg_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapmsg"
	"github.com/posthorn/posthorn/mime"
)

func Example() {
	raw := "From: Ann <ann@example.org>\r\nSubject: Hi\r\nContent-Type: text/plain\r\n\r\nHello, Bob.\r\n"
	m, err := imapmsg.Parse(strings.NewReader(raw), int64(len(raw)), mime.Limits{})
	if err != nil {
		panic(err)
	}
	// Computed once per message and cached by the server.
	enc := m.Encode()
	fmt.Printf("ENVELOPE %s\nBODYSTRUCTURE %s\n", enc.Envelope, enc.BodyStructure)

	// BODY.PEEK[TEXT]<0.5>
	r, n, _ := m.Section(&imap.FetchSection{Specifier: imap.PartText, Partial: &imap.Partial{Offset: 0, Count: 5}})
	b, _ := io.ReadAll(r)
	fmt.Printf("BODY[TEXT]<0> {%d} %s\n", n, b)

	// SEARCH FROM ann UNSEEN
	match := imapmsg.NewMatcher([]imap.SearchKey{{Op: imap.SearchFrom, Value: "ANN"}, {Op: imap.SearchUnseen}}, imapmsg.SearchContext{})
	ok, _ := match.Match(&imapmsg.Meta{UID: 1}, func() (*imapmsg.Message, error) { return m, nil })
	fmt.Println("match:", ok)
	// Output:
	// ENVELOPE (NIL "Hi" (("Ann" NIL "ann" "example.org")) (("Ann" NIL "ann" "example.org")) (("Ann" NIL "ann" "example.org")) NIL NIL NIL NIL NIL)
	// BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 13 1 NIL NIL NIL NIL)
	// BODY[TEXT]<0> {5} Hello
	// match: true
}
