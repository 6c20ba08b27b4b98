// Package limit holds the connection and authentication-failure limits
// that the SMTP, IMAP and POP3 servers share.
//
// [ConnLimiter] caps open connections globally and per client network (an
// IPv4 /32 and an IPv6 /64 by default: one IPv6 host usually owns a whole
// /64). [ConnLimiter.Acquire] returns a release function or a *[Error].
//
// [AuthLimiter] slows password guessing without locking anyone out. Each
// failed authentication raises two counters, one for the client network
// and one for the user name. The delay before the next attempt is the
// larger of the two:
//
//   - per network it is zero for the first few failures, then doubles from
//     BaseDelay up to MaxDelay: an attacker spends minutes per guess;
//   - per user it doubles the same way but stops at the small
//     UserMaxDelay: an attacker guessing one user's password from many
//     addresses is slowed, yet the real user, from their own address, never
//     waits more than UserMaxDelay.
//
// The delay is taken before the credentials are checked, whatever the
// outcome, so a correct password from a penalised network waits too: keep
// MaxDelay at a few seconds where many users share an address (a NAT), and
// let blocking stop a persistent guesser instead. Blocking is off by
// default. With BlockAfter (per network) and UserBlockAfter (per user), a
// counter that reaches the threshold blocks for BlockFor: attempts fail at
// once, without a credential check, with a *[BlockedError]. The trade-off:
// a network block shuts out everyone behind the same NAT, and a user block
// lets anyone lock that user out on purpose; [AuthLimiter.Unblock] lifts
// either early, [AuthLimiter.Blocks] lists them.
//
// Counters decay: one failure is forgotten per DecayInterval. A success
// clears the user's counter but not the network's, so an attacker who owns
// one account cannot reset its own address's counter by logging in.
//
// Implementation notes: both limiters are safe for concurrent use and
// guard their state with one mutex each; nothing blocks while holding it
// (AuthLimiter.Wait computes the delay under the lock and sleeps without
// it). Memory is bounded: the ConnLimiter holds one map entry per network
// with open connections (at most the global limit); the AuthLimiter keeps
// at most MaxEntries counters in an LRU list and evicts the least recently
// touched first. Time comes from an injectable clock so tests need not
// sleep. Parallel attempts from one network queue: each waits its delay
// after the previous attempt's turn (at most twice MaxDelay), so parallel
// connections do not multiply the guessing rate; attempts for one user
// never queue, so no one can hold a user's logins back.
package limit
