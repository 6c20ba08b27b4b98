package imapserver

// writeScaleCaps adds QUOTA, MULTIAPPEND, SORT, THREAD and COMPRESS
// capabilities that apply to the session.
func (s *session) writeScaleCaps() {}

// GETQUOTA (RFC 9208 §4.2.1).
func cmdGetQuota(s *session, tag string, uid bool) error { return bad("GETQUOTA not implemented") }

// GETQUOTAROOT (RFC 9208 §4.2.2).
func cmdGetQuotaRoot(s *session, tag string, uid bool) error {
	return bad("GETQUOTAROOT not implemented")
}

// SETQUOTA (RFC 9208 §4.2.3).
func cmdSetQuota(s *session, tag string, uid bool) error { return bad("SETQUOTA not implemented") }
