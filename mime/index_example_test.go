package mime_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/posthorn/posthorn/mime"
)

// Serve IMAP FETCH items from an index: section numbers (RFC 9051
// §6.4.5) map to byte ranges of the stored message, which is never held
// in memory.
func ExampleIndex() {
	msg := strings.NewReader(exampleMessage) // any io.ReaderAt: an *os.File, a blob
	root, err := mime.Index(msg, msg.Size(), mime.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// BODYSTRUCTURE: type, parameters, encoding, size and lines of each part.
	for i, p := range root.Children {
		fmt.Printf("%d: %s %v %s size=%d lines=%d\n", i+1, p.ContentType(), p.Params, p.Encoding, p.Size(), p.BodyLines)
	}
	// BODY[2.MIME] and BODY[2]: byte ranges.
	p := root.Lookup(2)
	mimeHdr := io.NewSectionReader(msg, p.HeaderOffset, p.BodyOffset-p.HeaderOffset)
	body := io.NewSectionReader(msg, p.BodyOffset, p.Size())
	h, _ := io.ReadAll(mimeHdr)
	b, _ := io.ReadAll(body)
	fmt.Printf("%q\n%q\n", h[:24], b)
	// BINARY[2]: the body with its transfer encoding undone.
	bin, _ := io.ReadAll(mime.NewTransferDecoder(p.Encoding, io.NewSectionReader(msg, p.BodyOffset, p.Size())))
	fmt.Printf("% x\n", bin)
	// ENVELOPE and BODY[HEADER.FIELDS (SUBJECT)] come from the root header.
	fmt.Println(root.Header.Get("Subject"))
	// Output:
	// 1: text/plain map[charset:iso-8859-1] quoted-printable size=20 lines=1
	// 2: image/png map[] base64 size=12 lines=1
	// "Content-Type: image/png\r"
	// "iVBORw0KGgo="
	// 89 50 4e 47 0d 0a 1a 0a
	// photos
}
