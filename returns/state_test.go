package returns_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/roundtriphq/roundtrip/returns"
)

// Short names so that the expected table below fits one row per state.
const (
	req = returns.StateRequested
	app = returns.StateApproved
	tra = returns.StateInTransit
	par = returns.StatePartiallyReceived
	rec = returns.StateReceived
	res = returns.StateResolving
	com = returns.StateCompleted
	fai = returns.StateRefundFailed
	rej = returns.StateRejected
	can = returns.StateCancelled
	exp = returns.StateExpired
	no  = returns.State("") // the transition is not allowed
)

// eventColumns are the events of the expected table, in this order.
var eventColumns = [...]returns.Event{
	"approve", "reject", "cancel", "expire", "carrier_scan", "receive_partial", "receive_all",
	"resolve", "settle_partial", "settle_all", "complete", "refund_fail", "retry_refund", "settle_refund",
}

// wantNext is the whole lifecycle written out by hand: one row per state, one
// column per event (see eventColumns), the state reached or no.
var wantNext = map[returns.State][len(eventColumns)]returns.State{
	// Columns in the order of eventColumns: approve, reject, cancel, expire,
	// carrier_scan, receive_partial, receive_all, resolve, settle_partial,
	// settle_all, complete, refund_fail, retry_refund, settle_refund.
	req: {app, rej, can, no, no, no, no, no, no, no, no, no, no, no},
	app: {no, no, can, exp, tra, par, rec, res, no, no, no, no, no, no},
	tra: {no, no, no, no, tra, par, rec, res, no, no, no, no, no, no},
	par: {no, no, no, no, par, par, rec, res, no, no, no, no, no, no},
	rec: {no, no, no, no, no, no, no, res, no, no, com, no, no, no},
	res: {no, no, no, no, res, res, res, res, par, rec, com, fai, no, no},
	com: {no, no, no, no, no, no, no, no, no, no, no, fai, no, no},
	fai: {no, no, no, no, fai, fai, fai, fai, no, no, no, fai, res, res},
	rej: {no, no, no, no, no, no, no, no, no, no, no, no, no, no},
	can: {no, no, no, no, no, no, no, no, no, no, no, no, no, no},
	exp: {no, no, no, no, no, no, no, no, no, no, no, no, no, no},
}

func TestStatesAndEvents(t *testing.T) {
	t.Parallel()

	wantStates := []returns.State{
		"requested", "approved", "in_transit", "partially_received", "received", "resolving",
		"completed", "refund_failed", "rejected", "cancelled", "expired",
	}
	if got := returns.States(); !slices.Equal(got, wantStates) {
		t.Errorf("States() = %v, want %v", got, wantStates)
	}
	if got := returns.Events(); !slices.Equal(got, eventColumns[:]) {
		t.Errorf("Events() = %v, want %v", got, eventColumns)
	}
	if len(wantNext) != len(wantStates) {
		t.Fatalf("expected table has %d rows, want one per state (%d)", len(wantNext), len(wantStates))
	}

	// The slices are the caller's.
	s := returns.States()
	s[0] = "mangled"
	if returns.States()[0] != req {
		t.Error("States() returned the package's own slice")
	}
	e := returns.Events()
	e[0] = "mangled"
	if returns.Events()[0] != eventColumns[0] {
		t.Error("Events() returned the package's own slice")
	}
}

func TestNextEveryPair(t *testing.T) {
	t.Parallel()

	for _, from := range returns.States() {
		row, ok := wantNext[from]
		if !ok {
			t.Errorf("state %s has no row in the expected table", from)
			continue
		}
		for i, ev := range eventColumns {
			got, err := returns.Next(from, ev)
			if wantTo := row[i]; wantTo != no {
				if err != nil || got != wantTo {
					t.Errorf("Next(%s, %s) = %q, %v; want %s", from, ev, got, err, wantTo)
				}
				continue
			}
			var te *returns.TransitionError
			if !errors.As(err, &te) {
				t.Errorf("Next(%s, %s) = %q, %v; want a *TransitionError", from, ev, got, err)
				continue
			}
			if te.From != from || te.Event != ev || got != "" {
				t.Errorf("Next(%s, %s) = %q, %+v; want \"\" and an error naming both", from, ev, got, te)
			}
		}
	}
}

func TestAllowedMatchesNext(t *testing.T) {
	t.Parallel()

	for from, row := range wantNext {
		var wantAllowed []returns.Event
		for i, to := range row {
			if to != no {
				wantAllowed = append(wantAllowed, eventColumns[i])
			}
		}
		if got := from.Allowed(); !slices.Equal(got, wantAllowed) {
			t.Errorf("%s.Allowed() = %v, want %v", from, got, wantAllowed)
		}
	}
}

func TestNextUnknown(t *testing.T) {
	t.Parallel()

	tests := []struct {
		from returns.State
		ev   returns.Event
	}{
		{"", returns.EventApprove},
		{"shipped", returns.EventApprove},
		{returns.StateRequested, ""},
		{returns.StateRequested, "submit"},
		{"Requested", returns.EventApprove},
	}
	for _, tt := range tests {
		got, err := returns.Next(tt.from, tt.ev)
		var te *returns.TransitionError
		if !errors.As(err, &te) || got != "" {
			t.Errorf("Next(%q, %q) = %q, %v; want a *TransitionError", tt.from, tt.ev, got, err)
		}
	}
}

func TestTransitionErrorMessage(t *testing.T) {
	t.Parallel()

	_, err := returns.Next(returns.StateCompleted, returns.EventCancel)
	if got, want := err.Error(), "returns: cannot cancel a return that is completed"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTerminal(t *testing.T) {
	t.Parallel()

	// completed is not: a refund that succeeded can fail later
	terminal := map[returns.State]bool{rej: true, can: true, exp: true}
	for _, s := range returns.States() {
		if got := s.Terminal(); got != terminal[s] {
			t.Errorf("%s.Terminal() = %v, want %v", s, got, terminal[s])
		}
	}
	if returns.State("bogus").Terminal() {
		t.Error(`State("bogus").Terminal() = true, want false`)
	}
}

func TestValidAndParseState(t *testing.T) {
	t.Parallel()

	for _, s := range returns.States() {
		if !s.Valid() {
			t.Errorf("%s.Valid() = false, want true", s)
		}
		got, err := returns.ParseState(string(s))
		if err != nil || got != s {
			t.Errorf("ParseState(%q) = %q, %v; want %s", s, got, err, s)
		}
	}
	for _, in := range []string{"", "REQUESTED", " requested", "refunded", "in-transit"} {
		if returns.State(in).Valid() {
			t.Errorf("State(%q).Valid() = true, want false", in)
		}
		if got, err := returns.ParseState(in); err == nil {
			t.Errorf("ParseState(%q) = %q, nil; want an error", in, got)
		}
	}
}

// TestLifecycles walks the stories the table was designed for.
func TestLifecycles(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		start  returns.State
		events []returns.Event
		want   returns.State
	}{
		{"one parcel, refund on receipt", app,
			[]returns.Event{"carrier_scan", "carrier_scan", "receive_all", "resolve", "complete"}, com},
		{"manual review then cancel", req, []returns.Event{"approve", "cancel"}, can},
		{"label expires", app, []returns.Event{"expire"}, exp},
		{"exchange needs no money", app, []returns.Event{"receive_all", "complete"}, com},
		{"returnless refund", app, []returns.Event{"resolve", "complete"}, com},
		{"refund on carrier scan", app, []returns.Event{"carrier_scan", "resolve", "complete"}, com},
		{"two parcels, second arrives while the first refund is in flight", app,
			[]returns.Event{"receive_partial", "resolve", "receive_all", "resolve", "complete"}, com},
		{"two parcels, first refund done before the second parcel", app,
			[]returns.Event{"receive_partial", "resolve", "settle_partial", "carrier_scan", "receive_all", "resolve", "complete"}, com},
		{"second parcel waits for inspection after the first refund", app,
			[]returns.Event{"receive_partial", "resolve", "receive_all", "settle_all"}, rec},
		{"failed refund retried", rec,
			[]returns.Event{"resolve", "refund_fail", "receive_all", "retry_refund", "complete"}, com},
		{"a succeeded refund fails later and is retried", rec,
			[]returns.Event{"resolve", "complete", "refund_fail", "retry_refund", "complete"}, com},
		{"two refunds fail", par,
			[]returns.Event{"resolve", "resolve", "refund_fail", "refund_fail", "retry_refund"}, res},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.start
			for _, ev := range tt.events {
				next, err := returns.Next(s, ev)
				if err != nil {
					t.Fatalf("after reaching %s: %v", s, err)
				}
				s = next
			}
			if s != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
	}
}
