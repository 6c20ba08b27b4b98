package main

// Inbound mail of a configured server (the MX on port 25): only the
// local domains, only addresses an account or alias takes (550 5.1.1 at
// RCPT for the others), SPF/DKIM/DMARC checked as in the demo (auth.go:
// Authentication-Results, DMARC reject refused, quarantine filed into
// Junk), and Return-Path and Delivered-To added at delivery.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// mxBackend is the MX's backend of a configured server.
func (s *site) mxBackend() smtpserver.Backend {
	return smtpserver.NewStoreBackend(&stampDelivery{inner: withJunkFiling(s.store), site: s}, smtpserver.StoreOptions{
		Domains: s.cfg.domains,
		Recipient: func(ctx context.Context, c *smtpserver.ConnInfo, to smtp.Mailbox) (string, error) {
			return s.dir.resolve(to)
		},
		Postmaster:   s.dir.postmaster(),
		Authenticate: s.mauth.inbound,
		Inspect:      returnPath,
		Logger:       s.logger.With("server", "smtp"),
	})
}

// returnPath is an Inspect hook that adds Return-Path: with the envelope
// sender at delivery (RFC 5321 §4.4: the final delivery adds it; "<>"
// for the null sender).
func returnPath(ctx context.Context, c *smtpserver.ConnInfo, from smtp.Mailbox, to []smtp.Mailbox) (io.Writer, func() ([]byte, error)) {
	return nil, func() ([]byte, error) { return returnPathField(from), nil }
}

func returnPathField(from smtp.Mailbox) []byte {
	b := []byte("Return-Path: <")
	if !from.IsNull() {
		b = from.AppendTo(b)
	}
	return append(b, ">\r\n"...)
}

// stampDelivery adds Delivered-To: (the account's address at the primary
// domain, as Postfix names the final recipient) to each copy. One
// account takes the message as it streams; several get one copy each
// from a spool file, since their fields differ.
type stampDelivery struct {
	inner smtpserver.DeliveryStore
	site  *site
}

// CheckQuota checks an account, or for a list whether one member can
// take the message.
func (d *stampDelivery) CheckQuota(ctx context.Context, username string, size int64) error {
	var err error
	for _, m := range d.site.dir.members(username) {
		if err = d.inner.CheckQuota(ctx, m, size); err == nil {
			return nil
		}
	}
	if err == nil {
		err = errNoSuchUser
	}
	return err
}

// DeliverMessage delivers to each account, a list to each of its
// members; a list's result is a success when one member got the message.
func (d *stampDelivery) DeliverMessage(ctx context.Context, names []string, body io.Reader, header func() []byte) ([]error, error) {
	var users []string
	members := make([][]string, len(names)) // once: the accounts may change meanwhile
	for i, n := range names {
		members[i] = d.site.dir.members(n)
		for _, m := range members[i] {
			if !slices.Contains(users, m) {
				users = append(users, m)
			}
		}
	}
	res, err := d.deliver(ctx, users, body, header)
	if err != nil || len(users) == len(names) && !hasList(names) {
		return res, err
	}
	out := make([]error, len(names))
	for i := range names {
		out[i] = errNoSuchUser
		for _, m := range members[i] {
			j := slices.Index(users, m)
			if res[j] == nil {
				out[i] = nil
				break
			}
			out[i] = res[j]
		}
	}
	return out, nil
}

func hasList(names []string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, listPrefix) })
}

func (d *stampDelivery) deliver(ctx context.Context, users []string, body io.Reader, header func() []byte) ([]error, error) {
	if len(users) == 0 {
		return nil, errNoSuchUser
	}
	if len(users) == 1 {
		return d.inner.DeliverMessage(ctx, users, body, func() []byte {
			return d.site.deliveredTo(header, users[0])
		})
	}
	f, err := os.CreateTemp(d.site.spool, "in-")
	if err != nil {
		return nil, err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	n, err := io.Copy(f, body)
	if err != nil {
		return nil, err
	}
	h := header()
	res := make([]error, len(users))
	for i, u := range users {
		r, err := d.inner.DeliverMessage(ctx, []string{u}, io.NewSectionReader(f, 0, n), func() []byte {
			return d.site.deliveredTo(func() []byte { return h }, u)
		})
		switch {
		case err != nil:
			res[i] = err
		case len(r) != 1:
			res[i] = fmt.Errorf("store returned %d results for one recipient", len(r))
		default:
			res[i] = r[0]
		}
	}
	return res, nil
}

// deliveredTo returns the header lines of header with Delivered-To: for
// account on top, below the Return-Path: field (returnPath's, which
// comes after the Authentication-Results of the inbound checks) moved
// to the very top, where RFC 5321 §4.4 puts it.
func (s *site) deliveredTo(header func() []byte, account string) []byte {
	h := header()
	dt := "Delivered-To: " + account + "@" + s.cfg.domains[0] + "\r\n"
	out := make([]byte, 0, len(h)+len(dt))
	start := -1
	if bytes.HasPrefix(h, returnPathName) {
		start = 0
	} else if i := bytes.Index(h, append([]byte("\r\n"), returnPathName...)); i >= 0 {
		start = i + 2
	}
	if start >= 0 {
		if n := bytes.Index(h[start:], []byte("\r\n")); n >= 0 {
			end := start + n + 2
			out = append(out, h[start:end]...)
			out = append(out, dt...)
			out = append(out, h[:start]...)
			return append(out, h[end:]...)
		}
	}
	out = append(out, dt...)
	return append(out, h...)
}

var returnPathName = []byte("Return-Path: ")
