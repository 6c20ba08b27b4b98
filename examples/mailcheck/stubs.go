package main

import (
	"context"
	"errors"
	"flag"
	"io"
)

func runLogin(ctx context.Context, fs *flag.FlagSet, c *common, args []string, stdin io.Reader, stderr io.Writer) (*Report, error) {
	return nil, errors.New("not yet")
}

func runDomain(ctx context.Context, fs *flag.FlagSet, c *common, args []string) (*Report, error) {
	return nil, errors.New("not yet")
}
