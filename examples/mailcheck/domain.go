package main

import (
	"context"
	"errors"
	"flag"
	"io"
)

func runDomain(ctx context.Context, fs *flag.FlagSet, c *common, args []string) (*Report, error) {
	_ = io.EOF
	return nil, errors.New("not yet")
}
