//go:build tools

// Package bench pins the comparison libraries until the benchmarks that use them land.
package bench

import (
	_ "github.com/emersion/go-imap/v2/imapclient"
	_ "github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	_ "github.com/emersion/go-message/mail"
	_ "github.com/emersion/go-sasl"
	_ "github.com/emersion/go-smtp"
	_ "github.com/stretchr/testify/require"
	_ "golang.org/x/text/encoding"
)
