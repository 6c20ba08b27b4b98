package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/posthorn/posthorn/examples/mailserver/webinbox"
)

// webServer is the web inbox (examples/mailserver/webinbox) on its
// listener; nil when turned off (-web "").
type webServer struct {
	srv   *http.Server
	inbox *webinbox.Inbox
}

// startWeb binds the web inbox's address and serves it. The inbox shows
// every message of the local accounts, so it listens on loopback only
// unless -web-public says otherwise.
func startWeb(cfg config, store webinbox.Store, users func() []string, logger *slog.Logger, ls listeners) (*webServer, error) {
	if cfg.Web == "" {
		return nil, nil
	}
	if !cfg.WebPublic {
		host, _, err := net.SplitHostPort(cfg.Web)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			return nil, fmt.Errorf("web inbox: %s is not a loopback address; the inbox shows everyone's mail (use -web-public to allow it)", cfg.Web)
		}
	}
	l, err := net.Listen("tcp", cfg.Web)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	ls["web"] = l
	in := &webinbox.Inbox{Store: store, Users: users, Logger: logger.With("server", "web")}
	w := &webServer{inbox: in, srv: &http.Server{Handler: in.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := w.srv.Serve(l); err != nil && err != http.ErrServerClosed {
			logger.Error("web inbox", "err", err)
		}
	}()
	return w, nil
}

func (w *webServer) shutdown(ctx context.Context) {
	if w == nil {
		return
	}
	_ = w.srv.Shutdown(ctx)
	w.inbox.Close()
}
