package web

import (
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/returns"
)

func TestPercent(t *testing.T) {
	for bps, want := range map[int]string{1000: "10%", 1250: "12.5%", 5: "0.05%", 10000: "100%", 1: "0.01%"} {
		if got := percent(bps); got != want {
			t.Errorf("percent(%d): got %q, want %q", bps, got, want)
		}
	}
}

// TestSteps: the stepper shows the last step reached as current, every step
// before it done; ended returns say why instead.
func TestSteps(t *testing.T) {
	for _, tc := range []struct {
		state   returns.State
		keepIt  bool
		res     returns.Resolution
		current string // "" when every step is done or the return ended
		ended   string
	}{
		{returns.StateRequested, false, returns.ResolutionRefund, "Requested", ""},
		{returns.StateApproved, false, returns.ResolutionRefund, "Approved", ""},
		{returns.StateInTransit, false, returns.ResolutionRefund, "Parcel sent", ""},
		{returns.StatePartiallyReceived, false, returns.ResolutionRefund, "Parcel sent", ""},
		{returns.StateReceived, false, returns.ResolutionRefund, "Received", ""},
		{returns.StateResolving, false, returns.ResolutionRefund, "Received", ""},
		{returns.StateRefundFailed, false, returns.ResolutionRefund, "Received", ""},
		{returns.StateCompleted, false, returns.ResolutionRefund, "Refunded", ""},
		{returns.StateCompleted, false, returns.ResolutionStoreCredit, "Credit issued", ""},
		{returns.StateApproved, true, returns.ResolutionRefund, "Approved", ""},
		{returns.StateResolving, true, returns.ResolutionRefund, "Approved", ""},
		{returns.StateCompleted, true, returns.ResolutionRefund, "Refunded", ""},
		{returns.StateCancelled, false, returns.ResolutionRefund, "", "cancelled"},
		{returns.StateRejected, false, returns.ResolutionRefund, "", "declined"},
		{returns.StateExpired, false, returns.ResolutionRefund, "", "expired"},
	} {
		st, ended := steps(&returns.Return{State: tc.state, KeepIt: tc.keepIt, Resolution: tc.res}, english())
		current := ""
		for i, s := range st {
			if s.Current {
				current = s.Label
				for _, before := range st[:i+1] {
					if !before.Done {
						t.Errorf("%s: step %s before the current one is not done", tc.state, before.Label)
					}
				}
			}
		}
		if current != tc.current || !strings.Contains(ended, tc.ended) || (tc.ended == "") != (ended == "") {
			t.Errorf("%s (keep-it %v, %s): got current %q, ended %q; want %q, %q", tc.state, tc.keepIt, tc.res, current, ended, tc.current, tc.ended)
		}
	}
}
