package refunds

// Status is where a refund stands. queued is ours; the others mirror Stripe's.
type Status string

// The refund statuses.
const (
	// StatusQueued: written with the receipt, not yet sent to Stripe.
	StatusQueued Status = "queued"
	// StatusPending: Stripe accepted the refund and has not settled it yet.
	StatusPending Status = "pending"
	// StatusRequiresAction: Stripe waits for the shopper (some payment methods).
	StatusRequiresAction Status = "requires_action"
	// StatusSucceeded: the money went back (Stripe can still fail it later).
	StatusSucceeded Status = "succeeded"
	// StatusFailed: Stripe refused or failed it; finance can retry.
	StatusFailed Status = "failed"
	// StatusCanceled: the refund was canceled before it settled.
	StatusCanceled Status = "canceled"
)

// Statuses lists every status, in the order of a refund's life.
func Statuses() []Status {
	return []Status{StatusQueued, StatusPending, StatusRequiresAction, StatusSucceeded, StatusFailed, StatusCanceled}
}

// StatusRank orders refund statuses so that callers never move a refund
// backwards: queued (0) < pending = requires_action (1) < succeeded = failed =
// canceled (2, terminal). It returns -1 for a status it does not know.
func StatusRank(status Status) int {
	switch status {
	case StatusQueued:
		return 0
	case StatusPending, StatusRequiresAction:
		return 1
	case StatusSucceeded, StatusFailed, StatusCanceled:
		return 2
	}
	return -1
}

// Advance reports whether a refund in status from should move to status to,
// whatever order Stripe's events and the poller's answers arrive in:
//
//   - forward, to a higher StatusRank, always;
//   - between pending and requires_action both ways (Stripe asks for action and
//     goes back to pending once the shopper acted);
//   - succeeded to failed: Stripe fails a succeeded refund later when the
//     card's account is closed, and the money comes back to the merchant;
//   - never anything else: a terminal status stays, nothing goes back to queued,
//     a status that does not change is no move, and an unknown to is ignored.
//
// An unknown or empty from (no status recorded yet) moves to any known status.
func Advance(from, to Status) bool {
	rt, rf := StatusRank(to), StatusRank(from)
	switch {
	case rt < 0 || from == to:
		return false
	case rf < 0:
		return true
	case from == StatusSucceeded && to == StatusFailed:
		return true
	case rf == 2:
		return false
	case rf == 1 && rt == 1:
		return true
	}
	return rt > rf
}

// Terminal reports whether a refund status is final for our purposes (a succeeded
// refund can still turn failed; see Advance).
func Terminal(status Status) bool { return StatusRank(status) == 2 }
