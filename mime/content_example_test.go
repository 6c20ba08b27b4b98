package mime_test

import (
	"fmt"
	"strings"

	"github.com/posthorn/posthorn/mime"
)

// ReadContent gives what a mail program shows: the text and HTML bodies
// and the attachments, with their IMAP section numbers.
func ExampleReadContent() {
	msg := "From: Alice <alice@example.org>\r\n" +
		"Subject: =?utf-8?q?Rapport_d=E2=80=99activit=C3=A9?=\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVoir la pièce jointe.\r\n" +
		"--b\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.csv\r\n\r\na,b\r\n1,2\r\n" +
		"--b--\r\n"
	c, err := mime.ReadContent(strings.NewReader(msg), mime.Limits{}, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.From[0].Name, "-", c.Subject)
	fmt.Printf("%q\n", c.Text)
	for _, p := range c.Parts {
		if p.IsAttachment() {
			fmt.Printf("part %s: %s %s, %d bytes\n", p.Section, p.ContentType, p.Filename, p.Size)
		}
	}
	// Output:
	// Alice - Rapport d’activité
	// "Voir la pièce jointe."
	// part 2: text/csv résumé.csv, 8 bytes
}
