package imapsort_test

import (
	"fmt"

	"github.com/posthorn/posthorn/imap/internal/imapsort"
)

// SORT (REVERSE DATE) and THREAD REFERENCES over three messages, answered by
// sequence number and by UID.
func Example() {
	msgs := []imapsort.Message{
		{SeqNum: 1, UID: 101, Subject: "Lunch?", Date: "Mon, 1 Jan 2024 10:00:00 +0000", MessageID: "<a@example.org>"},
		{SeqNum: 2, UID: 102, Subject: "Re: Lunch?", Date: "Mon, 1 Jan 2024 11:00:00 +0000", MessageID: "<b@example.org>", References: "<a@example.org>"},
		{SeqNum: 3, UID: 103, Subject: "=?utf-8?q?Caf=C3=A9?=", Date: "Mon, 1 Jan 2024 09:00:00 +0000"},
	}
	sorted := imapsort.Sort(msgs, []imapsort.Criterion{{Key: imapsort.Date, Reverse: true}})
	fmt.Println("* SORT", imapsort.Numbers(sorted, false))
	threads := imapsort.References(msgs)
	fmt.Println("* THREAD", imapsort.FormatThreads(threads, false))
	fmt.Println("* THREAD", imapsort.FormatThreads(threads, true))
	base, reply := imapsort.BaseSubject("Re: [list] Fwd: =?utf-8?q?Caf=C3=A9?= (fwd)")
	fmt.Println(base, reply)
	// Output:
	// * SORT [2 1 3]
	// * THREAD (3)(1 2)
	// * THREAD (103)(101 102)
	// Café true
}
