package authres_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/posthorn/posthorn/smtp/authres"
)

// A border MTA removes forged results claiming its own authserv-id while
// the message streams to the store, then prepends its own.
func ExampleFilter() {
	inbound := "Authentication-Results: mx.example.net; dkim=pass header.d=bank.example\r\n" +
		"From: \"Bank\" <alerts@bank.example>\r\n" +
		"Subject: Verify your account\r\n" +
		"\r\n" +
		"...\r\n"
	var store bytes.Buffer
	f := authres.NewFilter(&store, "mx.example.net")
	if _, err := io.Copy(f, strings.NewReader(inbound)); err != nil {
		log.Fatal(err)
	}
	f.Close()

	ours := authres.Header{AuthServID: "mx.example.net", Results: []authres.Result{
		{Method: "dkim", Value: "none"},
		{Method: "spf", Value: "fail", Props: []authres.Prop{{Type: "smtp", Name: "mailfrom", Value: "alerts@bank.example"}}},
	}}
	field, err := ours.Field()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("removed %d\n", f.Removed)
	fmt.Print(strings.ReplaceAll(field+store.String(), "\r\n", "\n"))
	// Output:
	// removed 1
	// Authentication-Results: mx.example.net;
	// 	dkim=none;
	// 	spf=fail smtp.mailfrom=alerts@bank.example
	// From: "Bank" <alerts@bank.example>
	// Subject: Verify your account
	//
	// ...
}

// A delivery agent or a test reads the results a trusted MX recorded.
func ExampleParse() {
	h, err := authres.Parse(" mx.example.net;\r\n\tdkim=pass (good signature) header.d=example.com header.b=abcd1234;\r\n\tspf=softfail smtp.mailfrom=example.com")
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range h.Results {
		d, _ := r.Prop("header", "d")
		fmt.Println(h.AuthServID, r.Method, r.Value, d)
	}
	// Output:
	// mx.example.net dkim pass example.com
	// mx.example.net spf softfail
}
