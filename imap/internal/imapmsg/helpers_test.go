package imapmsg

import (
	"bufio"
	"io"
	"strings"
)

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

var ioEOF = io.EOF
