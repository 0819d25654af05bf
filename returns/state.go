package returns

import "fmt"

// State is where a return stands in its lifecycle. The values are stored in the
// database and shown in the API, so they never change once released.
//
// Creation picks the initial state: StateRequested when the policy asks for
// manual review, StateApproved when it approves automatically. Every later move
// is an Event applied through Next.
type State string

const (
	// StateRequested: the shopper submitted the return and it waits for staff
	// review because the policy did not approve it automatically.
	StateRequested State = "requested"
	// StateApproved: the return was accepted and its label(s) issued; it waits
	// for the parcel.
	StateApproved State = "approved"
	// StateInTransit: a carrier reported the parcel moving. This step is
	// optional: a parcel may be received without any carrier scan.
	StateInTransit State = "in_transit"
	// StatePartiallyReceived: some of the expected items arrived, others are
	// still on their way (several parcels, or a parcel short of items).
	StatePartiallyReceived State = "partially_received"
	// StateReceived: every expected item is accounted for (arrived, or recorded
	// as missing at the scan station) and waits for its resolution.
	StateReceived State = "received"
	// StateResolving: at least one refund or store credit is in flight.
	StateResolving State = "resolving"
	// StateCompleted: the resolution is done (refunds succeeded, credit issued or
	// exchange released). Only a refund that Stripe fails after it succeeded moves
	// it on, to StateRefundFailed.
	StateCompleted State = "completed"
	// StateRefundFailed: Stripe refused or failed a refund; finance can retry it,
	// which moves the return back to StateResolving.
	StateRefundFailed State = "refund_failed"
	// StateRejected: staff or the policy declined the return. Terminal.
	StateRejected State = "rejected"
	// StateCancelled: the shopper or staff withdrew the return before anything
	// was handed to a carrier or arrived. Terminal.
	StateCancelled State = "cancelled"
	// StateExpired: no parcel moved within the label's validity; the label is
	// voided. Terminal.
	StateExpired State = "expired"
)

// Event is something that happens to a return and may move it to another
// State. Events name facts (a scan, a receipt, a refund outcome) or staff
// decisions; the table in this file decides what each one does in each state.
type Event string

const (
	// EventApprove: staff accept a requested return; its label is issued.
	EventApprove Event = "approve"
	// EventReject: staff (or a policy rule on review) decline a requested return.
	EventReject Event = "reject"
	// EventCancel: the shopper or staff withdraw the return. Allowed only while
	// no carrier has the parcel and nothing has arrived.
	EventCancel Event = "cancel"
	// EventExpire: the label's validity ended without any parcel moving.
	EventExpire Event = "expire"
	// EventCarrierScan: a carrier reported a parcel of the return moving.
	EventCarrierScan Event = "carrier_scan"
	// EventReceivePartial: the warehouse recorded items, and some expected items
	// are still outstanding.
	EventReceivePartial Event = "receive_partial"
	// EventReceiveAll: the warehouse recorded items, and now every expected item
	// is accounted for (arrived or recorded as missing).
	EventReceiveAll Event = "receive_all"
	// EventResolve: a refund or store credit was started (queued for the
	// gateway). A returnless (keep-it) refund resolves straight from approved;
	// the on_carrier_scan trigger resolves from in_transit.
	EventResolve Event = "resolve"
	// EventSettlePartial: every resolution in flight finished, and expected items
	// are still outstanding: the return waits for the rest of its parcels.
	EventSettlePartial Event = "settle_partial"
	// EventSettleAll: every resolution in flight finished, every item is
	// accounted for, but some of them still wait for their resolution (for
	// example the on_inspection trigger, or a refund held for inspection).
	EventSettleAll Event = "settle_all"
	// EventComplete: the whole return is resolved: nothing in flight, nothing
	// left to resolve.
	EventComplete Event = "complete"
	// EventRefundFail: Stripe refused or failed a refund of the return, also one
	// that had succeeded (the card's account was closed after the refund).
	EventRefundFail Event = "refund_fail"
	// EventRetryRefund: finance retries the failed refund(s).
	EventRetryRefund Event = "retry_refund"
	// EventSettleRefund: finance settled a failed refund another way (store credit,
	// or paid back outside Roundtrip); the return moves on as after a retry.
	EventSettleRefund Event = "settle_refund"
)

// states lists every State in lifecycle order.
var states = []State{
	StateRequested,
	StateApproved,
	StateInTransit,
	StatePartiallyReceived,
	StateReceived,
	StateResolving,
	StateCompleted,
	StateRefundFailed,
	StateRejected,
	StateCancelled,
	StateExpired,
}

// events lists every Event in lifecycle order.
var events = []Event{
	EventApprove,
	EventReject,
	EventCancel,
	EventExpire,
	EventCarrierScan,
	EventReceivePartial,
	EventReceiveAll,
	EventResolve,
	EventSettlePartial,
	EventSettleAll,
	EventComplete,
	EventRefundFail,
	EventRetryRefund,
	EventSettleRefund,
}

// transitions is the lifecycle as data: state × event → state. A pair that is
// missing is not allowed. The rules behind it:
//
//   - A return stays in the furthest state it reached. Facts about parcels and
//     items (carrier_scan, receive_partial, receive_all) are accepted in every
//     open state in which they can still physically happen, and when the return
//     is already further along they leave the state as it is (a self-loop that
//     the timeline still records); the item quantities carry the detail. So a
//     late carrier scan never moves a received parcel back to in_transit, and a
//     parcel arriving while a refund is in flight keeps the return resolving.
//   - Several parcels, each with its own refund: parcel 1 arrives
//     (approved → partially_received), its refund starts (→ resolving), parcel 2
//     arrives while that refund is in flight (resolving stays resolving) and its
//     refund starts too (resolve: resolving stays resolving). When the refunds in
//     flight finish the caller looks at the items: all resolved → complete;
//     items still expected → settle_partial (back to partially_received until
//     the next parcel); everything here but not all resolved → settle_all (back
//     to received).
//   - refund_failed is sticky: it stays until finance retries or settles the failed
//     refund another way (settle_refund: store credit, or paid outside), even while more
//     parcels arrive or more refunds start and fail, so a failure is never
//     hidden by later activity.
//   - cancel is allowed only in requested and approved. Once a carrier has the
//     parcel (in_transit) it will arrive at the warehouse whatever the shopper
//     says, so the return must be received; staff reject items at inspection
//     instead.
//   - expire only from approved: in_transit means a parcel moved, and a
//     requested return has no label yet.
//   - complete from received covers resolutions that need no money movement
//     (an exchange released, a zero refund because every item was rejected at
//     inspection). complete never applies to partially_received: items are
//     still expected.
//   - When the whole return is resolved before its parcel arrives (a returnless
//     refund, or the on_carrier_scan trigger refunding everything), the caller
//     fires complete; a parcel that turns up afterwards is recorded on the items
//     only, as no parcel event leaves completed.
//   - A refund that succeeded can still fail later (Stripe fails it when the
//     card's account was closed, and the money goes back to the merchant), so
//     refund_fail leaves completed for refund_failed: finance sees it among the
//     failed refunds and can retry it.
//   - rejected, cancelled and expired are terminal: no event leaves them.
var transitions = map[State]map[Event]State{
	StateRequested: {
		EventApprove: StateApproved,
		EventReject:  StateRejected,
		EventCancel:  StateCancelled,
	},
	StateApproved: {
		EventCancel:         StateCancelled,
		EventExpire:         StateExpired,
		EventCarrierScan:    StateInTransit,
		EventReceivePartial: StatePartiallyReceived,
		EventReceiveAll:     StateReceived,
		EventResolve:        StateResolving, // returnless (keep-it) refund
	},
	StateInTransit: {
		EventCarrierScan:    StateInTransit,
		EventReceivePartial: StatePartiallyReceived,
		EventReceiveAll:     StateReceived,
		EventResolve:        StateResolving, // refund trigger on_carrier_scan
	},
	StatePartiallyReceived: {
		EventCarrierScan:    StatePartiallyReceived, // another parcel moving
		EventReceivePartial: StatePartiallyReceived,
		EventReceiveAll:     StateReceived,
		EventResolve:        StateResolving, // refund for what arrived so far
	},
	StateReceived: {
		EventResolve:  StateResolving,
		EventComplete: StateCompleted, // nothing to pay: exchange or zero refund
	},
	StateResolving: {
		EventCarrierScan:    StateResolving,
		EventReceivePartial: StateResolving,
		EventReceiveAll:     StateResolving,
		EventResolve:        StateResolving, // another parcel's refund
		EventSettlePartial:  StatePartiallyReceived,
		EventSettleAll:      StateReceived,
		EventComplete:       StateCompleted,
		EventRefundFail:     StateRefundFailed,
	},
	StateRefundFailed: {
		EventCarrierScan:    StateRefundFailed,
		EventReceivePartial: StateRefundFailed,
		EventReceiveAll:     StateRefundFailed,
		EventResolve:        StateRefundFailed,
		EventRefundFail:     StateRefundFailed,
		EventRetryRefund:    StateResolving,
		EventSettleRefund:   StateResolving,
	},
	StateCompleted: {
		EventRefundFail: StateRefundFailed, // a succeeded refund failed later
	},
	StateRejected:  {},
	StateCancelled: {},
	StateExpired:   {},
}

// EventCreate names a return's creation in its timeline and to its Notifier. It is
// not in the table: a return starts requested.
const EventCreate Event = "create"

// EventInspect names an inspection in a refused move's TransitionError. It is not
// in the table: an inspection changes no state (it adds a timeline entry and
// releases a refund that waited for it).
const EventInspect Event = "inspect"

// TransitionError reports an event that the transition table does not allow in
// the return's current state. The API answers it with 409 and names both.
type TransitionError struct {
	From  State
	Event Event
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("returns: cannot %s a return that is %s", e.Event, e.From)
}

// Next returns the state reached by applying ev in from.
// It returns a *TransitionError when the table has no such transition,
// including when from or ev is not a known value.
func Next(from State, ev Event) (State, error) {
	if to, ok := transitions[from][ev]; ok {
		return to, nil
	}
	return "", &TransitionError{From: from, Event: ev}
}

// States returns every State in lifecycle order. The slice is the caller's.
func States() []State {
	return append([]State(nil), states...)
}

// Events returns every Event in lifecycle order. The slice is the caller's.
func Events() []Event {
	return append([]Event(nil), events...)
}

// ParseState returns the State named s, or an error when s names none.
func ParseState(s string) (State, error) {
	if st := State(s); st.Valid() {
		return st, nil
	}
	return "", fmt.Errorf("returns: unknown state %q", s)
}

// Valid reports whether s is one of the states in States.
func (s State) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// Terminal reports whether no event leaves s. An unknown state is not terminal.
func (s State) Terminal() bool {
	return s.Valid() && len(transitions[s]) == 0
}

// Allowed returns the events that Next accepts in s, in lifecycle order:
// what a screen can offer and what a 409 answer can list.
func (s State) Allowed() []Event {
	var out []Event
	for _, ev := range events {
		if _, ok := transitions[s][ev]; ok {
			out = append(out, ev)
		}
	}
	return out
}
