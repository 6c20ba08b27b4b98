package main

// The queue of a running server, through the admin API of ops.go (the
// queue directory is locked by the server, so "mailserver queue" asks
// it):
//
//	GET  /admin/queue                 the messages (JSON, smtpqueue.MessageInfo)
//	POST /admin/queue/{op}?id=ID      op: hold, release, delete, retry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/posthorn/posthorn/smtp/smtpqueue"
)

// queueRoutes adds the queue's admin routes to mux.
func (o *ops) queueRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/queue", o.admin(func(w http.ResponseWriter, r *http.Request) {
		if o.queue == nil {
			http.Error(w, "this server has no queue (relaying is off, or no -config)", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(o.queue.List()) //nolint:errcheck // the client went away
	}))
	mux.HandleFunc("POST /admin/queue/{op}", o.admin(func(w http.ResponseWriter, r *http.Request) {
		if o.queue == nil {
			http.Error(w, "this server has no queue (relaying is off, or no -config)", http.StatusNotFound)
			return
		}
		act, ok := queueOp(o.queue, r.PathValue("op"))
		if !ok {
			http.Error(w, "unknown operation: want hold, release, delete or retry", http.StatusNotFound)
			return
		}
		id := r.FormValue("id")
		if err := act(id); err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, smtpqueue.ErrNotFound) {
				status = http.StatusNotFound
			}
			http.Error(w, err.Error(), status)
			return
		}
		o.log.Warn("queue operation", "event", "queue", "op", r.PathValue("op"), "id", id)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"id": id, "op": r.PathValue("op")}) //nolint:errcheck
	}))
}

// queueOp is the queue's method for a subcommand's operation name.
func queueOp(q *smtpqueue.Queue, op string) (func(string) error, bool) {
	switch op {
	case "hold":
		return q.Hold, true
	case "release":
		return q.Release, true
	case "delete":
		return q.Delete, true
	case "retry":
		return q.RetryNow, true
	}
	return nil, false
}

// remoteQueue runs a queue operation on the running server through its
// admin API at addr, with the token it wrote in the data directory.
func remoteQueue(dataDir, addr, op, id string, out io.Writer) error {
	tok, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		return fmt.Errorf("the queue is in use by the running server, and its admin token is not readable: %w", err)
	}
	method, path := "GET", "/admin/queue"
	if op != "list" {
		method, path = "POST", "/admin/queue/"+url.PathEscape(op)+"?id="+url.QueryEscape(id)
	}
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("the queue is in use by the running server, whose admin API (-metrics %s) did not answer: %w", addr, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if op == "list" {
		var msgs []smtpqueue.MessageInfo
		if err := json.Unmarshal(b, &msgs); err != nil {
			return fmt.Errorf("server: %w", err)
		}
		return writeQueue(out, msgs)
	}
	_, err = fmt.Fprintf(out, "%s: %s done\n", id, op)
	return err
}
