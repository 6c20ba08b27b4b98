// Package mime reads, indexes and builds Internet messages (RFC 5322) and
// their MIME structure (RFC 2045, RFC 2046).
package mime
