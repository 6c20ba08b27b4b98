package lineio_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/posthorn/posthorn/internal/lineio"
)

// A server reads commands with a hard line limit and stays in step after an
// over-long one.
func ExampleReader() {
	in := "EHLO client.example\r\nMAIL FROM:<" + strings.Repeat("a", 600) + ">\r\nQUIT\r\n"
	r := lineio.NewReader(bufio.NewReader(strings.NewReader(in)), 510)
	for {
		line, err := r.ReadLine()
		var tooLong *lineio.LineTooLongError
		switch {
		case errors.As(err, &tooLong):
			fmt.Println("500 5.5.2 Line too long")
			continue
		case err == io.EOF:
			return
		case err != nil:
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("C: %s\n", line)
	}
	// Output:
	// C: EHLO client.example
	// 500 5.5.2 Line too long
	// C: QUIT
}

// An SMTP server reads DATA; the next command stays in the bufio.Reader.
func ExampleDotReader() {
	br := bufio.NewReader(strings.NewReader("Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n"))
	body, err := io.ReadAll(lineio.NewDotReader(br, lineio.DotOptions{MaxSize: 10 << 20}))
	fmt.Printf("%q %v\n", body, err)
	next, _ := br.ReadString('\n')
	fmt.Printf("%q\n", next)
	// Output:
	// "Subject: hi\r\n\r\n.dot\r\n" <nil>
	// "QUIT\r\n"
}

// A client sends a body that contains a fake terminator with bare LFs;
// the DotWriter writes it harmlessly.
func ExampleDotWriter() {
	var wire strings.Builder
	w := lineio.NewDotWriter(&wire)
	io.WriteString(w, "hello\n.\nMAIL FROM:<x>")
	w.Close()
	fmt.Printf("%q\n", wire.String())
	// Output:
	// "hello\r\n..\r\nMAIL FROM:<x>\r\n.\r\n"
}
