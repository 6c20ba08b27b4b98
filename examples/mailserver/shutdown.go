package main

// Graceful shutdown. On SIGTERM (or SIGINT) the program stops accepting
// connections on every listener at once and lets what is in flight
// finish, up to -shutdown-timeout (30 s): a message whose DATA is being
// received is read to its end, stored and answered 250 before the
// session is told 421 4.3.2 (RFC 5321 §3.8); an IMAP APPEND is received
// and stored before "* BYE"; a POP3 RETR is sent whole. Sessions waiting
// for a command are told so and closed at once. Then the store is closed.
// Nothing acknowledged is lost: an acknowledgement is only sent once the
// store has the message on disk (the Maildir store writes and syncs the
// file before it renames it into new/, imap/imapserver/maildir). Past the
// timeout the remaining connections are cut, and a message not yet
// acknowledged is not stored; its client will send it again.

import (
	"context"
	"log/slog"
	"sync"
)

// shutdownAll runs the servers' Shutdown methods at once, so that one
// server's long transaction does not leave the others accepting, and
// waits for all of them.
func shutdownAll(ctx context.Context, logger *slog.Logger, shut map[string]func(context.Context) error) {
	logger.Info("shutting down: finishing transactions in flight", "event", "shutdown")
	var wg sync.WaitGroup
	for name, f := range shut {
		wg.Go(func() {
			if err := f(ctx); err != nil && !isClosed(err) {
				logger.Warn("shutdown: connections cut", "event", "shutdown", "server", name, "err", err)
			}
		})
	}
	wg.Wait()
	logger.Info("servers stopped", "event", "shutdown")
}
