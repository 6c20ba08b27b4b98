//go:build tools

// Package posthorn pins the module dependencies until the packages that use them land.
package posthorn

import (
	_ "github.com/stretchr/testify/require"
	_ "golang.org/x/net/idna"
	_ "golang.org/x/net/proxy"
	_ "golang.org/x/text/encoding/htmlindex"
	_ "golang.org/x/text/secure/precis"
	_ "golang.org/x/text/unicode/norm"
	_ "golang.org/x/text/encoding/ianaindex"
	_ "github.com/stretchr/testify/assert"
)
