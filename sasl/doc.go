// Package sasl implements the Simple Authentication and Security Layer
// (RFC 4422) for the posthorn SMTP, IMAP and POP3 clients and servers: the
// client and server side of PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1,
// SCRAM-SHA-256 and their -PLUS variants, OAUTHBEARER, XOAUTH2, EXTERNAL and
// ANONYMOUS.
//
// Messages are the decoded payloads: base64 and the protocol's "*" cancel
// belong to the protocol packages.
package sasl
