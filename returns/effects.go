package returns

import (
	"context"
)

// Effects are what a return's changes set off in other domains. The store calls them
// inside the change's transaction, so a change and everything it sets off commit
// together or not at all:
//
//   - approve: Labels.Issue books the first parcel and its label (the statement that
//     publishes the label writes the approval and its notice too); a keep-it return
//     (nothing is sent back) is instead resolved at once: Resolver.Resolve for every
//     unit of the quote.
//   - cancel, reject, expire: Labels.Void voids every label of the return.
//   - the first carrier scan (approved → in_transit) under the on_carrier_scan refund
//     trigger: Resolver.Resolve for every eligible unit of the quote, so the refund
//     goes out before the parcel arrives; the later receipt records condition and
//     pays only what is still owed (nothing, when everything arrived).
//   - a receipt (Tx.Resolve, called by receiving) or an inspection: Resolver.Resolve
//     issues what the accepted units are worth (a refund or store credit) and moves
//     the return on to resolving, completed or refund_failed. The receipt's change
//     (Tx.TransitionResolving) and its notice ride on the resolution's first
//     statement: the refund's insert writes received and resolving at once.
//   - every change, creation included: Notifier.ReturnChanged tells the shop's
//     systems (signed webhooks) and the shopper, first, so that the notices go out in
//     the order of the return's journey (return.approved before label.issued).
//   - for a return with the exchange resolution, every change, creation included,
//     goes to Exchanges.Changed after the labels: creation holds the replacements'
//     stock (or fails the creation when another exchange took the last unit) and
//     records the exchange; approval releases an instant exchange; the first carrier
//     scan releases one released on carrier scan; cancel, reject and expiry give the
//     stock back (an instant exchange already released whose parcel never came is
//     reported unreturned). A receipt that accepts units releases the replacement
//     (Exchanges.Receive) before the units are resolved, and a return does not
//     complete while its exchange waits for release (Tx.ExchangePending).
//   - the shopper's feedback on a completed return (SetFeedback):
//     Notifier.FeedbackReceived.
//
// cmd/roundtrip/app sets them (labels.Service, refunds.Service); a zero Effects sets
// off nothing, for tests of the store alone.
type Effects struct {
	Labels    Labels
	Resolver  Resolver
	Notifier  Notifier
	Exchanges Exchanges
}

// Exchanges looks after the replacements of exchange returns (the exchanges
// package).
type Exchanges interface {
	// Changed applies ev, just applied to t's return (or EventCreate), to its exchange.
	Changed(ctx context.Context, t *Tx, ev Event) error
	// Receive applies a receipt's accepted units (all accepted so far, per line) to
	// the exchange before they are resolved: the on_receipt release.
	Receive(ctx context.Context, t *Tx, accepted map[string]int) error
	// Pending reports whether the return's exchange still waits to be released
	// (payment, receipt or scan): the return does not complete before.
	Pending(ctx context.Context, t *Tx) (bool, error)
}

// Notifier tells the shop's systems and the shopper that a return changed (the notify
// package). ev is the event that moved it, or EventCreate. A notifier that writes may
// make the change's own writes in its statement (t.Carried); what it leaves is
// written right after it returns.
type Notifier interface {
	ReturnChanged(ctx context.Context, t *Tx, ev Event) error
	// FeedbackReceived tells them the shopper answered the feedback request.
	FeedbackReceived(ctx context.Context, t *Tx, f Feedback) error
}

// Labels issues and voids the prepaid labels of a return (the labels package).
type Labels interface {
	// Issue books the return's next parcel with its label; its statement that
	// publishes the label makes the change's writes not made yet first (t.Carried:
	// the approval that issues it, and the approval's notice).
	Issue(ctx context.Context, t *Tx) error
	// Void voids every label of the return: none of them may be used any more.
	Void(ctx context.Context, t *Tx) error
}

// Resolver turns accepted units into money (the refunds package).
type Resolver interface {
	// Resolve issues what the accepted units (per line, all accepted so far) are
	// worth less what the return already had issued, per the return's policy and
	// resolution, and moves the return on. receiptID is the receipt that accepted
	// them (0 for keep-it and inspections).
	Resolve(ctx context.Context, t *Tx, receiptID int64, accepted map[string]int, actor string) error
}

// SetEffects sets what the store's changes set off (see Effects).
func (s *Store) SetEffects(e Effects) { s.effects = e }

// setOff runs what ev, just applied to t's return, sets off.
//
// The change itself (its state and timeline entry, t.carry) is written by the
// notification's statement when there is one; otherwise here, before the rest, unless
// another statement of the change follows at once (Tx.Follows), which then makes it:
// the approval of a new return (Create), the label an approval issues.
func (s *Store) setOff(ctx context.Context, t *Tx, ev Event) error {
	r := t.Return
	// an approval's label is the change's next statement: the approval and its
	// notice ride on it (Labels.Issue carries t.Carried())
	issues := ev == EventApprove && !r.KeepIt && s.effects.Labels != nil
	outer := t.following
	if s.effects.Notifier != nil {
		t.following = outer || issues
		err := s.effects.Notifier.ReturnChanged(ctx, t, ev)
		t.following = outer
		if err != nil {
			return err
		}
	}
	if !outer && !issues { // else the next statement makes what is left
		if err := t.flush(ctx); err != nil {
			return err
		}
	}
	switch ev {
	case EventApprove:
		if r.KeepIt {
			return t.Resolve(ctx, 0, r.Quote.EligibleUnits(), "system")
		}
		if issues {
			if err := s.effects.Labels.Issue(ctx, t); err != nil {
				return err
			}
			if !outer {
				if err := t.flush(ctx); err != nil { // what the label did not carry
					return err
				}
			}
		}
	case EventCancel, EventReject, EventExpire:
		if s.effects.Labels != nil {
			if err := s.effects.Labels.Void(ctx, t); err != nil {
				return err
			}
		}
	case EventCarrierScan:
		// the first scan only: a later parcel, or a return already further on, pays nothing
		if r.State == StateInTransit && !r.KeepIt {
			pol, err := t.Policy(ctx)
			if err != nil {
				return err
			}
			if pol.RefundTrigger == TriggerOnCarrierScan {
				if err := t.Resolve(ctx, 0, r.Quote.EligibleUnits(), "carrier"); err != nil {
					return err
				}
			}
		}
	}
	if r.Resolution == ResolutionExchange && s.effects.Exchanges != nil {
		return s.effects.Exchanges.Changed(ctx, t, ev)
	}
	return nil
}

// Resolve hands the accepted units to the Resolver (see Effects), in t.
func (t *Tx) Resolve(ctx context.Context, receiptID int64, accepted map[string]int, actor string) error {
	if x := t.store.effects.Exchanges; x != nil && t.Return.Resolution == ResolutionExchange {
		// the receipt's notice before the release's
		if err := t.flush(ctx); err != nil {
			return err
		}
		if err := x.Receive(ctx, t, accepted); err != nil {
			return err
		}
	}
	if t.store.effects.Resolver == nil {
		return nil
	}
	return t.store.effects.Resolver.Resolve(ctx, t, receiptID, accepted, actor)
}

// ExchangePending reports whether t's return has an exchange that still waits to be
// released (see Exchanges.Pending): such a return does not complete yet.
func (t *Tx) ExchangePending(ctx context.Context) (bool, error) {
	if x := t.store.effects.Exchanges; x != nil && t.Return.Resolution == ResolutionExchange {
		return x.Pending(ctx, t)
	}
	return false, nil
}
