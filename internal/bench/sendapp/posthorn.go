// Package sendapp holds one application task written twice, with posthorn
// and with go-mail: send an HTML receipt with a text alternative, an inline
// logo and a PDF attachment through an authenticated submission server
// whose certificate is signed by a custom CA (issue 15's anchor). The test
// runs both against our server and counts their lines.
package sendapp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"

	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// SendPosthorn sends the receipt with posthorn, through a Submitter that
// pools its connections.
func SendPosthorn(ctx context.Context, addr string, caPEM []byte, user, pass string, logo, pdf []byte) error {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	s := &smtpclient.Submitter{
		Addr:    addr,
		Auth:    &sasl.ClientOptions{Username: user, Password: pass},
		Options: smtpclient.Options{TLSConfig: &tls.Config{RootCAs: roots}},
	}
	defer s.Close(ctx)
	b := &mime.Builder{
		From:    &mime.Address{Name: "Shop", Mailbox: "orders", Host: "shop.example"},
		To:      []*mime.Address{{Name: "Customer", Mailbox: "customer", Host: "example.org"}},
		Subject: "Your receipt",
		Text:    strings.NewReader("Thank you for your order."),
	}
	logoPart := b.AddInline("logo.png", bytes.NewReader(logo))
	b.HTML = strings.NewReader(`<p>Thank you for your order.</p><img src="` + logoPart.URL() + `">`)
	b.AddAttachment("receipt.pdf", bytes.NewReader(pdf))
	_, err := s.SubmitBuilder(ctx, b)
	return err
}
