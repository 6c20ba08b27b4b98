package mime_test

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/posthorn/posthorn/mime"
)

// Build the bounce a queue sends when a recipient is refused, then read it
// back as the sender's application would.
func ExampleReportBuilder() {
	b := &mime.ReportBuilder{
		From: "Mail Delivery System <MAILER-DAEMON@mx.example.org>",
		To:   "alice@example.org",
		Date: time.Date(2024, 1, 2, 10, 5, 0, 0, time.UTC),
		Status: mime.DeliveryStatus{
			ReportingMTA: mime.TypedValue{Type: "dns", Value: "mx.example.org"},
			Recipients: []mime.RecipientStatus{{
				FinalRecipient: mime.TypedValue{Type: "rfc822", Value: "nobody@example.net"},
				Action:         mime.ActionFailed,
				Status:         "5.1.1",
				RemoteMTA:      mime.TypedValue{Type: "dns", Value: "mail.example.net"},
				DiagnosticCode: mime.TypedValue{Type: "smtp", Value: "550 5.1.1 User unknown"},
			}},
		},
		Original:    strings.NewReader("From: alice@example.org\r\nTo: nobody@example.net\r\nSubject: hello\r\n\r\nHi!\r\n"),
		HeadersOnly: true,
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		fmt.Println(err)
		return
	}
	rep, err := mime.ReadReport(&buf, mime.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rep.Status.Recipients {
		fmt.Println(r.FinalRecipient.Value, r.Action, r.Status, r.DiagnosticCode.Value)
	}
	fmt.Println(strings.TrimSpace(rep.ReturnedHeader.Get("Subject")))
	// Output:
	// nobody@example.net failed 5.1.1 550 5.1.1 User unknown
	// hello
}
