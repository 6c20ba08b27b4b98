package imapsort

import "strconv"

// AppendThreads appends the thread-list data of a THREAD response
// (RFC 5256 §4, "thread-data") for threads to dst: sequence numbers, or
// UIDs when uid is true (UID THREAD). For example "(2)(3 6 (4 23)(44 7 96))".
// The caller writes "* THREAD" and, if dst grew, a space before it.
func AppendThreads(dst []byte, threads []*Thread, uid bool) []byte {
	for _, t := range threads {
		dst = append(dst, '(')
		dst = appendMembers(dst, t, uid)
		dst = append(dst, ')')
	}
	return dst
}

// FormatThreads is AppendThreads returning a string.
func FormatThreads(threads []*Thread, uid bool) string {
	return string(AppendThreads(nil, threads, uid))
}

// appendMembers writes thread-members or thread-nested for t:
//
//	thread-members = nz-number *(SP nz-number) [SP thread-nested]
//	thread-nested  = 2*thread-list
//
// Chains of single replies are written in a loop, so depth of recursion is
// the number of branchings, not the length of a thread.
func appendMembers(dst []byte, t *Thread, uid bool) []byte {
	for {
		if t.Msg != nil {
			n := t.Msg.SeqNum
			if uid {
				n = t.Msg.UID
			}
			dst = strconv.AppendUint(dst, uint64(n), 10)
		}
		switch len(t.Children) {
		case 0:
			return dst
		case 1:
			if t.Msg != nil {
				dst = append(dst, ' ')
			}
			t = t.Children[0]
		default:
			if t.Msg != nil {
				dst = append(dst, ' ')
			}
			for _, c := range t.Children {
				dst = append(dst, '(')
				dst = appendMembers(dst, c, uid)
				dst = append(dst, ')')
			}
			return dst
		}
	}
}
