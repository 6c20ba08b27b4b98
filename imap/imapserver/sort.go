package imapserver

// SORT (RFC 5256 §3).
func cmdSort(s *session, tag string, uid bool) error { return bad("SORT not implemented") }

// THREAD (RFC 5256 §3).
func cmdThread(s *session, tag string, uid bool) error { return bad("THREAD not implemented") }
