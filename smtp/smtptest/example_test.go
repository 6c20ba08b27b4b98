package smtptest_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtptest"
)

// A test of an application's mail: start a server, run the code that
// sends, wait for the message and look at it. In a test pass t to
// NewServer instead of nil, and drop Close.
func Example() {
	srv := smtptest.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The application's code: here a one-call Submit.
	_, err := smtpclient.Submit(ctx, srv.Addr, nil, "shop@example.org", []string{"bob@example.org"},
		strings.NewReader("Subject: Your receipt\r\n\r\nThanks!\r\n"), &smtpclient.SubmitOptions{Options: *srv.ClientOptions()})
	if err != nil {
		log.Fatal(err)
	}

	msgs, err := srv.WaitForMessages(ctx, 1, smtptest.To("bob@example.org"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(msgs[0].From, msgs[0].To, msgs[0].Subject, msgs[0].TLS)
	// Output: shop@example.org [bob@example.org] Your receipt true
}

// Test the retry path of an application: the first two attempts are
// refused with a temporary error, the third is accepted.
func ExampleFault() {
	srv := smtptest.NewServer(nil)
	defer srv.Close()
	srv.SetFaults(smtptest.Fault{At: smtptest.AtMail, Times: 2, Reply: smtptest.Reply(451, "4.3.0 try again later")})
	ctx := context.Background()
	for attempt := 1; ; attempt++ {
		_, err := smtpclient.Submit(ctx, srv.Addr, nil, "a@example.org", []string{"b@example.org"},
			strings.NewReader("Subject: hi\r\n\r\n"), &smtpclient.SubmitOptions{Options: *srv.ClientOptions()})
		fmt.Println("attempt", attempt, err == nil)
		if err == nil {
			break
		}
	}
	// Output:
	// attempt 1 false
	// attempt 2 false
	// attempt 3 true
}
