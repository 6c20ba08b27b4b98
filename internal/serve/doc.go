// Package serve holds what smtpserver, imapserver and pop3server share
// by alias: ConnInfo (what a backend learns about a connection) and the
// hook events ConnEvent and AuthEvent, declared once so that the three
// servers speak one vocabulary.
package serve
