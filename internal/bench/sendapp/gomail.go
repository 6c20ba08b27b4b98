package sendapp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"

	"github.com/wneessen/go-mail"
)

// SendGoMail sends the same receipt with github.com/wneessen/go-mail, as
// its documentation shows.
func SendGoMail(ctx context.Context, host string, port int, caPEM []byte, user, pass string, logo, pdf []byte) error {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	m := mail.NewMsg()
	if err := m.FromFormat("Shop", "orders@shop.example"); err != nil {
		return err
	}
	if err := m.AddToFormat("Customer", "customer@example.org"); err != nil {
		return err
	}
	m.Subject("Your receipt")
	m.SetBodyString(mail.TypeTextPlain, "Thank you for your order.")
	m.AddAlternativeString(mail.TypeTextHTML, `<p>Thank you for your order.</p><img src="cid:logo.png">`)
	if err := m.EmbedReader("logo.png", bytes.NewReader(logo)); err != nil {
		return err
	}
	if err := m.AttachReader("receipt.pdf", bytes.NewReader(pdf)); err != nil {
		return err
	}
	c, err := mail.NewClient(host, mail.WithPort(port), mail.WithSMTPAuth(mail.SMTPAuthPlain),
		mail.WithUsername(user), mail.WithPassword(pass), mail.WithTLSPolicy(mail.TLSMandatory),
		mail.WithTLSConfig(&tls.Config{RootCAs: roots, ServerName: host}))
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, m)
}
