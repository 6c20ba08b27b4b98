package imapserver

import (
	"errors"
	"strconv"

	"github.com/posthorn/posthorn/imap"
)

// Quota (RFC 9208). A backend's User that implements Quotaer has one
// quota root, named "" (the RFC's own example, §4.2.2), covering all its
// mailboxes; STORAGE travels in units of 1024 octets (RFC 9208 §5.1),
// MESSAGE as a count (§5.2). Enforcement is the backend's: an APPEND,
// COPY, MOVE or delivery that would cross a limit fails with
// ErrOverQuota and changes nothing, answered NO [OVERQUOTA] (§4.3.1).

// quotaRoot is the name of the one quota root of a Quotaer.
const quotaRoot = ""

// writeScaleCaps adds QUOTA, MULTIAPPEND, SORT, THREAD and COMPRESS
// capabilities that apply to the session.
func (s *session) writeScaleCaps() {
	w := &s.w
	if s.state != stateNotAuth {
		if _, ok := s.user.(Quotaer); ok {
			// RFC 9208 §3.1.1, §5: every resource handled is advertised.
			w.WriteString(" QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE")
			if _, ok := s.user.(QuotaSetter); ok && s.srv.AllowSetQuota != nil {
				w.WriteString(" QUOTASET") // RFC 9208 §4.1.3
			}
		}
		if _, ok := s.user.(MultiAppender); ok {
			w.WriteString(" MULTIAPPEND") // RFC 3502
		}
		w.WriteString(" SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES")
		if s.compressed == nil {
			// After login only, where the command is accepted (as
			// Dovecot), and not once active (RFC 4978 §3).
			w.WriteString(" COMPRESS=DEFLATE")
		}
	}
}

// GETQUOTA (RFC 9208 §4.1.1).
func cmdGetQuota(s *session, tag string, uid bool) error {
	if err := s.dec.SP(); err != nil {
		return err
	}
	root, err := s.dec.ReadAString()
	if err != nil {
		return err
	}
	if err := s.crlf(); err != nil {
		return err
	}
	q, ok := s.user.(Quotaer)
	if !ok || root != quotaRoot {
		return no(imap.CodeNonExistent, "No such quota root")
	}
	res, err := q.Quota(s.ctx)
	if err != nil {
		return err
	}
	if len(res) == 0 {
		// No limits: quota-list needs a resource (RFC 9208 §7), so a
		// root without one is not there to report.
		return no(imap.CodeNonExistent, "No such quota root")
	}
	s.writeQuota(root, res)
	return nil
}

// GETQUOTAROOT (RFC 9208 §4.1.2). The mailbox need not exist: the
// answer is the root it would have.
func cmdGetQuotaRoot(s *session, tag string, uid bool) error {
	name, err := s.readMailboxLine()
	if err != nil {
		return err
	}
	w := &s.w
	var res []QuotaResource
	if q, ok := s.user.(Quotaer); ok {
		if res, err = q.Quota(s.ctx); err != nil {
			return err
		}
	}
	if len(res) == 0 {
		// No quota root covers the mailbox (RFC 9208 §4.2.2, second
		// example): a user without limits has none.
		w.WriteString("* QUOTAROOT ")
		w.mailbox(name)
		w.crlf()
		return nil
	}
	w.WriteString("* QUOTAROOT ")
	w.mailbox(name)
	w.sp()
	w.str(quotaRoot)
	w.crlf()
	s.writeQuota(quotaRoot, res)
	return nil
}

// SETQUOTA (RFC 9208 §4.1.3): only for users Server.AllowSetQuota
// permits (NO [NOPERM] otherwise, RFC 9051 §7.1).
func cmdSetQuota(s *session, tag string, uid bool) error {
	if err := s.dec.SP(); err != nil {
		return err
	}
	root, err := s.dec.ReadAString()
	if err != nil {
		return err
	}
	if err := s.dec.SP(); err != nil {
		return err
	}
	// setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")"
	var limits []QuotaResource
	err = s.dec.ReadList(true, func() error {
		name, err := s.dec.ReadAtomUpper()
		if err != nil {
			return err
		}
		if err := s.dec.SP(); err != nil {
			return err
		}
		n, err := s.dec.ReadNumber64()
		if err != nil {
			return err
		}
		if n > 1<<63-1 {
			return bad("limit out of range")
		}
		if len(limits) >= 16 {
			return bad("too many resources")
		}
		limits = append(limits, QuotaResource{Name: name, Limit: int64(n)})
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.crlf(); err != nil {
		return err
	}
	qs, ok := s.user.(QuotaSetter)
	if !ok || s.srv.AllowSetQuota == nil {
		return no(imap.CodeCannot, "SETQUOTA is not supported")
	}
	if !s.srv.AllowSetQuota(s.ctx, s.username, root) {
		return no(imap.CodeNoPerm, "Permission denied")
	}
	for i, l := range limits {
		switch l.Name {
		case "STORAGE":
			if l.Limit > (1<<63-1)/1024 {
				return bad("limit out of range")
			}
			limits[i].Limit *= 1024 // RFC 9208 §5.1: units of 1024 octets
		case "MESSAGE":
		default:
			return no(imap.CodeCannot, "Unsupported quota resource "+l.Name)
		}
	}
	res, err := qs.SetQuota(s.ctx, root, limits)
	if err != nil {
		if errors.Is(err, ErrNoSuchQuotaRoot) {
			return no(imap.CodeNonExistent, "No such quota root")
		}
		if errors.Is(err, ErrQuotaNotSet) {
			return no(imap.CodeCannot, "Cannot set that limit")
		}
		return err
	}
	s.writeQuota(root, res)
	return nil
}

// writeQuota writes "* QUOTA root (NAME usage limit ...)" (RFC 9208 §4.2.1).
// With no resources it writes nothing: quota-list has at least one
// (RFC 9208 §7), and a SETQUOTA that removed every limit answers with
// its tagged OK alone.
func (s *session) writeQuota(root string, res []QuotaResource) {
	if len(res) == 0 {
		return
	}
	w := &s.w
	w.WriteString("* QUOTA ")
	w.str(root)
	w.WriteString(" (")
	for i, r := range res {
		if i > 0 {
			w.sp()
		}
		usage, limit := r.Usage, r.Limit
		if r.Name == "STORAGE" {
			usage, limit = usage/1024, limit/1024
		}
		w.WriteString(r.Name)
		w.sp()
		w.Write(strconv.AppendInt(w.AvailableBuffer(), max(usage, 0), 10))
		w.sp()
		w.Write(strconv.AppendInt(w.AvailableBuffer(), max(limit, 0), 10))
	}
	w.WriteString(")\r\n")
}

// deletedStorage returns STATUS DELETED-STORAGE of a mailbox (RFC 9208
// §4.1.4), in the units of STORAGE (1024 octets, rounded up so that any
// reclaimable message counts): from the backend's DeletedSizer, or by
// adding up the \Deleted messages of a read-only view.
func (s *session) deletedStorage(name string) int64 {
	var n int64
	if ds, ok := s.user.(DeletedSizer); ok {
		v, err := ds.DeletedSize(s.ctx, name)
		if err != nil {
			s.log.Info("DELETED-STORAGE failed", "err", err)
			return 0
		}
		n = v
	} else {
		mb, err := s.user.OpenMailbox(s.ctx, name, true)
		if err != nil {
			return 0
		}
		defer mb.Close()
		msgs, err := mb.Messages(s.ctx, mb.Snapshot().UIDs)
		if err != nil {
			return 0
		}
		for _, m := range msgs {
			for _, f := range m.Flags() {
				if imap.Flag(f).Equal(imap.FlagDeleted) {
					n += m.Size()
					break
				}
			}
		}
	}
	return (n + 1023) / 1024
}
