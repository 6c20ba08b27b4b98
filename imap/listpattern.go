package imap

// MatchList reports whether the mailbox name matches a LIST pattern
// (RFC 9051 §6.3.9): "*" matches any run of characters, "%" any run without
// the hierarchy delimiter delim. Both pattern and name must be in the same
// form (both decoded UTF-8, or both modified UTF-7, in which a pattern's
// "&" is an ordinary character). INBOX is matched case-insensitively; the
// caller passes names in canonical form (see CanonicalMailboxName) and the
// pattern as given, which this function canonicalises too.
//
// The match runs in O(len(pattern)·len(name)) time whatever the pattern,
// so hostile patterns like "*%*%*%*%x" cannot make it explode.
func MatchList(pattern, name string, delim rune) bool {
	pattern = CanonicalMailboxName(pattern, delim)
	n := []rune(name)
	// cur[j]: pattern prefix matches name prefix of length j.
	cur := make([]bool, len(n)+1)
	next := make([]bool, len(n)+1)
	cur[0] = true
	for _, pc := range pattern {
		clear(next)
		switch pc {
		case '*':
			seen := false
			for j := 0; j <= len(n); j++ {
				seen = seen || cur[j]
				next[j] = seen
			}
		case '%':
			seen := false
			for j := 0; j <= len(n); j++ {
				if j > 0 && n[j-1] == delim {
					seen = false
				}
				seen = seen || cur[j]
				next[j] = seen
			}
		default:
			for j := 1; j <= len(n); j++ {
				next[j] = cur[j-1] && n[j-1] == pc
			}
		}
		cur, next = next, cur
	}
	return cur[len(n)]
}
