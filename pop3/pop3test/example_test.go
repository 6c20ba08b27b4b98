package pop3test_test

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/posthorn/posthorn/pop3/pop3test"
)

// Read a message placed straight into a maildrop. In a test pass t to
// NewServer instead of nil, and drop Close.
func Example() {
	srv := pop3test.NewServer(nil)
	defer srv.Close()
	srv.AddUser("bob", "pw")
	ctx := context.Background()
	if err := srv.Deliver(ctx, "bob", []byte("Subject: hello\r\n\r\nHi Bob\r\n")); err != nil {
		log.Fatal(err)
	}
	c, err := srv.Client(ctx) // STLS done, trusting the server
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "bob", "pw"); err != nil {
		log.Fatal(err)
	}
	r, err := c.Retr(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(r)
	r.Close()
	fmt.Printf("%q\n", body)
	// Output: "Subject: hello\r\n\r\nHi Bob\r\n"
}
