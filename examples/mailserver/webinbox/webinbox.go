// Package webinbox is the web inbox of examples/mailserver: the messages of
// every local account in a browser, newest first, updated live as mail
// arrives (server-sent events), with a message view (headers, text, the
// HTML part in a sandboxed frame with remote content blocked until asked
// for, attachments, raw source, MIME tree) and a JSON API for scripts and
// tests in other languages, including a blocking wait:
//
//	GET    /api/v1/messages                     list, newest first
//	GET    /api/v1/messages/{user}/{uid}        one message, parsed
//	GET    /api/v1/messages/{user}/{uid}/raw    its bytes
//	DELETE /api/v1/messages/{user}/{uid}        delete it
//	GET    /api/v1/wait?n=1&to=ADDR&subject=S&timeout=30s
//	GET    /api/v1/events                       server-sent events
//
// It reads the store through the IMAP server's backend interfaces, so what
// it shows is what IMAP and POP3 serve. Only the standard library.
package webinbox

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/internal/testkit"
	"github.com/posthorn/posthorn/mime"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// Store is what the inbox reads: the IMAP backend of the mail store.
type Store interface {
	User(ctx context.Context, username string, info *imapserver.ConnInfo) (imapserver.User, error)
}

// Inbox serves the web inbox. Set the fields, then use Handler.
type Inbox struct {
	Store Store
	// Users lists the local accounts to show.
	Users func() []string
	// Logger receives errors; nil discards them.
	Logger *slog.Logger

	once    sync.Once
	changed testkit.Signal
	stop    context.CancelFunc
	watched sync.WaitGroup
}

// Summary is one message in a list.
type Summary struct {
	User    string    `json:"user"`
	UID     uint32    `json:"uid"`
	Date    time.Time `json:"date"`
	From    string    `json:"from"`
	To      []string  `json:"to"`
	Subject string    `json:"subject"`
	Size    int64     `json:"size"`
	Seen    bool      `json:"seen"`
}

// Part is one node of a message's MIME tree.
type Part struct {
	Path        string `json:"path"` // IMAP section: "1.2", "1" for a one-part body, "" for a multipart root
	ContentType string `json:"content_type"`
	Filename    string `json:"filename,omitempty"`
	Size        int    `json:"size"`
	ContentID   string `json:"content_id,omitempty"`
	Depth       int    `json:"-"`
	Attachment  bool   `json:"attachment"`
}

// Detail is one message, parsed.
type Detail struct {
	Summary
	Header  [][2]string `json:"header"`
	Text    string      `json:"text"`
	HTML    string      `json:"html"`
	Parts   []Part      `json:"parts"`
	Defects []string    `json:"defects,omitempty"`
}

func (in *Inbox) log() *slog.Logger {
	if in.Logger != nil {
		return in.Logger
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Close stops watching the mailboxes.
func (in *Inbox) Close() {
	if in.stop != nil {
		in.stop()
		in.watched.Wait()
	}
}

// start watches every user's INBOX for changes, once.
func (in *Inbox) start() {
	in.once.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		in.stop = cancel
		for _, name := range in.Users() {
			u, err := in.Store.User(ctx, name, nil)
			if err != nil {
				in.log().Warn("web inbox: user", "user", name, "err", err)
				continue
			}
			mb, err := u.OpenMailbox(ctx, "INBOX", true)
			if err != nil {
				u.Close()
				continue
			}
			wake := make(chan struct{}, 1)
			mb.SetNotify(func() {
				select {
				case wake <- struct{}{}:
				default:
				}
			})
			in.watched.Add(1)
			go func() {
				defer in.watched.Done()
				defer u.Close()
				defer mb.Close()
				for {
					select {
					case <-ctx.Done():
						return
					case <-wake:
						mb.Poll() // forget; the pages read afresh
						in.changed.Notify()
					}
				}
			}()
		}
	})
}

// Handler returns the inbox's HTTP handler.
func (in *Inbox) Handler() http.Handler {
	in.start()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", in.pageList)
	mux.HandleFunc("GET /m/{user}/{uid}", in.pageMessage)
	mux.HandleFunc("GET /m/{user}/{uid}/html", in.partHTML)
	mux.HandleFunc("GET /m/{user}/{uid}/raw", in.raw)
	mux.HandleFunc("GET /m/{user}/{uid}/part/{path}", in.partDownload)
	mux.HandleFunc("GET /api/v1/messages", in.apiList)
	mux.HandleFunc("GET /api/v1/messages/{user}/{uid}", in.apiGet)
	mux.HandleFunc("GET /api/v1/messages/{user}/{uid}/raw", in.raw)
	mux.HandleFunc("DELETE /api/v1/messages/{user}/{uid}", in.apiDelete)
	mux.HandleFunc("POST /m/{user}/{uid}/delete", in.formDelete)
	mux.HandleFunc("GET /api/v1/wait", in.apiWait)
	mux.HandleFunc("GET /api/v1/events", in.events)
	return securityHeaders(mux)
}

// securityHeaders sets what every page gets: no framing by others, no
// sniffing, no referrer, and a policy that allows our own script only.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Frame-Options", "SAMEORIGIN")
		if w.Header().Get("Content-Security-Policy") == "" {
			w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'")
		}
		h.ServeHTTP(w, r)
	})
}

// list reads every user's INBOX, newest first.
func (in *Inbox) list(ctx context.Context) ([]Summary, error) {
	var out []Summary
	for _, name := range in.Users() {
		err := in.withMailbox(ctx, name, true, func(mb imapserver.Mailbox) error {
			msgs, err := mb.Messages(ctx, mb.Snapshot().UIDs)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				out = append(out, summarize(name, m))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Date.After(out[j].Date) })
	return out, nil
}

func (in *Inbox) withMailbox(ctx context.Context, user string, readOnly bool, fn func(imapserver.Mailbox) error) error {
	u, err := in.Store.User(ctx, user, nil)
	if err != nil {
		return err
	}
	defer u.Close()
	mb, err := u.OpenMailbox(ctx, "INBOX", readOnly)
	if err != nil {
		return err
	}
	defer mb.Close()
	return fn(mb)
}

// readAll returns the whole of m, for the message view and its parts.
func readAll(m imapserver.Message) ([]byte, error) {
	ra, err := m.Open()
	if err != nil {
		return nil, err
	}
	if c, ok := ra.(io.Closer); ok {
		defer c.Close()
	}
	return io.ReadAll(io.NewSectionReader(ra, 0, m.Size()))
}

func summarize(user string, m imapserver.Message) Summary {
	s := Summary{User: user, UID: m.UID(), Date: m.InternalDate(), Size: m.Size()}
	for _, f := range m.Flags() {
		if strings.EqualFold(f, `\Seen`) {
			s.Seen = true
		}
	}
	ra, err := m.Open()
	if err != nil {
		return s
	}
	if c, ok := ra.(io.Closer); ok {
		defer c.Close()
	}
	head := make([]byte, min(m.Size(), 64<<10))
	n, _ := ra.ReadAt(head, 0)
	h, _, _ := mime.ParseHeader(head[:n])
	s.Subject, _ = mime.DecodeWords(h.Get("Subject"))
	if from, err := mime.ParseAddressList(h.Get("From")); err == nil && len(from) > 0 {
		s.From = from[0].String()
	} else {
		s.From = h.Get("From")
	}
	for _, k := range []string{"To", "Cc"} {
		if l, err := mime.ParseAddressList(h.Get(k)); err == nil {
			for _, a := range l {
				s.To = append(s.To, a.Addr())
			}
		}
	}
	return s
}

// message finds one message and returns it with its bytes.
func (in *Inbox) message(ctx context.Context, user, uidText string) (Summary, []byte, error) {
	uid, err := strconv.ParseUint(uidText, 10, 32)
	if err != nil || !in.known(user) {
		return Summary{}, nil, errNotFound
	}
	var s Summary
	var raw []byte
	err = in.withMailbox(ctx, user, true, func(mb imapserver.Mailbox) error {
		msgs, err := mb.Messages(ctx, []uint32{uint32(uid)})
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return errNotFound
		}
		s = summarize(user, msgs[0])
		raw, err = readAll(msgs[0])
		return err
	})
	return s, raw, err
}

var errNotFound = errors.New("no such message")

func (in *Inbox) known(user string) bool {
	for _, u := range in.Users() {
		if u == user {
			return true
		}
	}
	return false
}

// parse builds a Detail from raw bytes, and returns the attachments'
// parts by section number.
func parse(s Summary, raw []byte) (Detail, map[string]mime.ContentPart) {
	d := Detail{Summary: s}
	h, _, _ := mime.ParseHeader(raw)
	for _, f := range h.Fields() {
		v, err := mime.DecodeWords(f.Value())
		if err != nil {
			v = f.Value()
		}
		if f.Key == "" {
			continue
		}
		d.Header = append(d.Header, [2]string{f.Key, strings.TrimSpace(v)})
	}
	c, _ := mime.ReadContent(bytes.NewReader(raw), mime.Limits{}, 0)
	d.Text, d.HTML, d.Defects = c.Text, c.HTML, c.Defects
	atts := map[string]mime.ContentPart{}
	for _, p := range c.Parts {
		d.Parts = append(d.Parts, Part{
			Path:        p.Section,
			ContentType: p.ContentType,
			Filename:    p.Filename,
			Size:        p.Size,
			ContentID:   p.ContentID,
			Depth:       p.Depth,
			Attachment:  p.IsAttachment(),
		})
		if p.IsAttachment() {
			atts[p.Section] = p
		}
	}
	return d, atts
}

func (in *Inbox) fail(w http.ResponseWriter, err error) {
	if errors.Is(err, errNotFound) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	in.log().Error("web inbox", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

func (in *Inbox) pageList(w http.ResponseWriter, r *http.Request) {
	list, err := in.list(r.Context())
	if err != nil {
		in.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, "list.html", list); err != nil {
		in.log().Error("web inbox: template", "err", err)
	}
}

func (in *Inbox) pageMessage(w http.ResponseWriter, r *http.Request) {
	s, raw, err := in.message(r.Context(), r.PathValue("user"), r.PathValue("uid"))
	if err != nil {
		in.fail(w, err)
		return
	}
	d, _ := parse(s, raw)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	data := struct {
		Detail
		Raw    string
		Remote bool
	}{d, string(raw), r.URL.Query().Get("remote") == "1"}
	if err := pages.ExecuteTemplate(w, "message.html", data); err != nil {
		in.log().Error("web inbox: template", "err", err)
	}
}

// partHTML serves the HTML part for the sandboxed frame: no script ever
// (sandbox without allow-scripts, and script-src 'none'), no remote
// content unless ?remote=1, inline images from the message itself.
func (in *Inbox) partHTML(w http.ResponseWriter, r *http.Request) {
	s, raw, err := in.message(r.Context(), r.PathValue("user"), r.PathValue("uid"))
	if err != nil {
		in.fail(w, err)
		return
	}
	d, _ := parse(s, raw)
	img := "img-src data: 'self'"
	if r.URL.Query().Get("remote") == "1" {
		img = "img-src data: 'self' http: https:"
	}
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; "+img)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// cid: references (RFC 2392) point at the message's own parts.
	html := d.HTML
	for _, p := range d.Parts {
		if p.ContentID != "" && p.Attachment {
			html = strings.ReplaceAll(html, "cid:"+p.ContentID, fmt.Sprintf("/m/%s/%d/part/%s", s.User, s.UID, p.Path))
		}
	}
	io.WriteString(w, html)
}

func (in *Inbox) raw(w http.ResponseWriter, r *http.Request) {
	_, raw, err := in.message(r.Context(), r.PathValue("user"), r.PathValue("uid"))
	if err != nil {
		in.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "message/rfc822")
	w.Header().Set("Content-Disposition", "inline")
	w.Write(raw)
}

func (in *Inbox) partDownload(w http.ResponseWriter, r *http.Request) {
	s, raw, err := in.message(r.Context(), r.PathValue("user"), r.PathValue("uid"))
	if err != nil {
		in.fail(w, err)
		return
	}
	_, atts := parse(s, raw)
	key := r.PathValue("path")
	p, ok := atts[key]
	if !ok {
		in.fail(w, errNotFound)
		return
	}
	name, body := p.Filename, p.Data
	if name == "" {
		name = "part-" + key
	}
	w.Header().Set("Content-Type", p.ContentType)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (in *Inbox) apiList(w http.ResponseWriter, r *http.Request) {
	list, err := in.list(r.Context())
	if err != nil {
		in.fail(w, err)
		return
	}
	if list == nil {
		list = []Summary{}
	}
	writeJSON(w, list)
}

func (in *Inbox) apiGet(w http.ResponseWriter, r *http.Request) {
	s, raw, err := in.message(r.Context(), r.PathValue("user"), r.PathValue("uid"))
	if err != nil {
		in.fail(w, err)
		return
	}
	d, _ := parse(s, raw)
	writeJSON(w, d)
}

func (in *Inbox) delete(ctx context.Context, user, uidText string) error {
	uid, err := strconv.ParseUint(uidText, 10, 32)
	if err != nil || !in.known(user) {
		return errNotFound
	}
	return in.withMailbox(ctx, user, false, func(mb imapserver.Mailbox) error {
		res, err := mb.SetFlags(ctx, []uint32{uint32(uid)}, imapserver.FlagsAdd, []string{`\Deleted`}, 0)
		if err != nil {
			return err
		}
		_ = res
		return mb.Expunge(ctx, []uint32{uint32(uid)})
	})
}

func (in *Inbox) apiDelete(w http.ResponseWriter, r *http.Request) {
	if err := in.delete(r.Context(), r.PathValue("user"), r.PathValue("uid")); err != nil {
		in.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (in *Inbox) formDelete(w http.ResponseWriter, r *http.Request) {
	if err := in.delete(r.Context(), r.PathValue("user"), r.PathValue("uid")); err != nil {
		in.fail(w, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// apiWait blocks until n messages match (to, subject) or the timeout
// passes: the blocking wait Mailpit's API lacks.
func (in *Inbox) apiWait(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("n"))
	if n <= 0 {
		n = 1
	}
	timeout, err := time.ParseDuration(q.Get("timeout"))
	if err != nil || timeout <= 0 || timeout > 5*time.Minute {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	to, subject := strings.ToLower(q.Get("to")), q.Get("subject")
	for {
		wake := in.changed.Wait()
		list, err := in.list(ctx)
		if err != nil && ctx.Err() == nil {
			in.fail(w, err)
			return
		}
		var got []Summary
		for _, s := range list {
			if subject != "" && !strings.Contains(s.Subject, subject) {
				continue
			}
			if to != "" && !containsFold(s.To, to) {
				continue
			}
			got = append(got, s)
		}
		if len(got) >= n {
			writeJSON(w, got)
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			w.WriteHeader(http.StatusRequestTimeout)
			if got == nil {
				got = []Summary{}
			}
			writeJSON(w, got)
			return
		}
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// events streams "message" events as the mailboxes change.
func (in *Inbox) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	// Take the wake-up channel before telling the client it is
	// connected, so a change right after is not missed.
	wake := in.changed.Wait()
	io.WriteString(w, ": connected\n\n")
	fl.Flush()
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			io.WriteString(w, ": ping\n\n")
		case <-wake:
			wake = in.changed.Wait()
			io.WriteString(w, "event: message\ndata: changed\n\n")
		}
		fl.Flush()
	}
}
